// TerminalScreen: a chat layout on an ANSI terminal. Lines scroll in the top
// region, a status bar sits on the second-to-last row, and the input line on
// the last row stays put while messages arrive.
//
// It uses the terminal's own scroll region (DECSTBM, `ESC[top;bottom r`): a
// line written at the bottom of the region scrolls only the region, so the
// terminal does the scrolling and the input line is never disturbed — after
// each output the input line is drawn again and the cursor put back in it.
// Keys come from node:readline's keypress parser in raw mode; the line editor
// (cursor, history, Ctrl-U/W/A/E) is here.
//
// A resize redraws the whole screen from the lines kept here: the terminal
// moved or re-wrapped the old status and input rows (a status padded to the
// old width wraps onto two rows when the window narrows; a taller window
// leaves it mid-screen), and only a full redraw leaves no stale copy behind.
import { emitKeypressEvents } from 'node:readline';

interface Key {
  name?: string;
  ctrl?: boolean;
  meta?: boolean;
  sequence?: string;
}

const ESC = '\x1b[';
/** Printed lines kept for a redraw: more than any terminal has rows. */
const RECENT_LINES = 500;
/**
 * What other people's text must not smuggle into our terminal: C0 controls but
 * \n (ESC starts every terminal command; \r would rewrite the line), DEL, C1,
 * and every format character (\p{Cf}: bidi overrides, embeddings and isolates
 * such as U+202E, which reorder what a line shows, zero-width characters).
 */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\p{Cf}]/gu;
/** Line and paragraph separators: breaks to some renderers, so treated as \n. */
const SEPARATORS = /[\u2028\u2029]/g;

/** Text from the network, made safe to print: tabs become spaces, other control and format characters go. */
export function printable(text: string): string {
  return text.replace(/\t/g, '    ').replace(SEPARATORS, '\n').replace(CONTROL, '');
}

/** A name or room from the network on one line: printable, breaks as spaces. */
export function printableName(text: string): string {
  return printable(text).replace(/\n/g, ' ');
}

/**
 * The body of one message, however many lines it has: the first line as it
 * is, every further line behind a margin mark, so no line of it can pass for
 * a message of its own (`06:52 admin: …` typed on a second line shows as
 * `      │ 06:52 admin: …`).
 */
export const CONTINUATION = '      │ ';
/**
 * How much of one message is printed: anyone in a room may send the largest
 * text the broker takes (16,384 characters, or as many line breaks), which
 * would scroll every other line off the screen. The rest is counted, not shown.
 */
export const SHOWN_CHARS = 1_000;
export const SHOWN_LINES = 20;
export function messageBody(text: string): string {
  const clean = printable(text);
  let end = Math.min(clean.length, SHOWN_CHARS);
  for (let line = 0, at = clean.indexOf('\n'); at >= 0 && at < end; at = clean.indexOf('\n', at + 1)) {
    if (++line === SHOWN_LINES) end = at;
  }
  // Never half of a surrogate pair: the terminal would print a replacement character.
  if (end < clean.length && /[\uD800-\uDBFF]/.test(clean[end - 1] ?? '')) end--;
  const shown = clean.slice(0, end).split('\n').join(`\n${CONTINUATION}`);
  if (end === clean.length) return shown;
  const rest = clean.length - end;
  return `${shown}\n${CONTINUATION}… ${rest.toLocaleString('en')} more character${rest === 1 ? '' : 's'} not shown`;
}

export class TerminalScreen {
  readonly #in: NodeJS.ReadStream;
  readonly #out: NodeJS.WriteStream;
  #prompt = '> ';
  #status = '';
  #buffer: string[] = []; // code points, so the cursor never splits a character
  #cursor = 0;
  readonly #history: string[] = [];
  #historyAt = 0;
  #onLine: (line: string) => void = () => {};
  #onQuit: () => void = () => {};
  #started = false;
  /** The latest printed lines, to draw the message region again after a resize. */
  readonly #recent: string[] = [];
  readonly #onKey = (str: string | undefined, key: Key | undefined): void => this.#key(str, key ?? {});
  readonly #onResize = (): void => this.#redraw();

  constructor(input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stdout) {
    this.#in = input;
    this.#out = output;
  }

  get rows(): number {
    return Math.max(4, this.#out.rows || 24);
  }

  get columns(): number {
    return Math.max(20, this.#out.columns || 80);
  }

  onLine(handler: (line: string) => void): void {
    this.#onLine = handler;
  }

  /** Ctrl-C, or Ctrl-D on an empty line. */
  onQuit(handler: () => void): void {
    this.#onQuit = handler;
  }

  start(): void {
    this.#started = true;
    emitKeypressEvents(this.#in);
    this.#in.setRawMode(true);
    this.#in.on('keypress', this.#onKey);
    this.#in.resume();
    this.#out.on('resize', this.#onResize);
    this.#out.write(`${ESC}2J`);
    this.#layout();
  }

  /** Restores the terminal: whole-screen scrolling, cooked mode, cursor below everything. */
  stop(): void {
    if (!this.#started) return;
    this.#started = false;
    this.#in.off('keypress', this.#onKey);
    this.#out.off('resize', this.#onResize);
    this.#in.setRawMode(false);
    this.#in.pause();
    this.#out.write(`${ESC}r${ESC}${this.rows};1H${ESC}2K\r\n`);
  }

  /** Adds lines at the bottom of the message region; the region scrolls up. */
  print(text: string): void {
    if (!this.#started) return;
    this.#recent.push(text);
    if (this.#recent.length > RECENT_LINES) this.#recent.shift();
    this.#writeLines(text);
    this.#drawInput();
  }

  status(text: string): void {
    this.#status = text;
    if (this.#started) this.#drawStatus();
  }

  prompt(text: string): void {
    this.#prompt = text;
    if (this.#started) this.#drawInput();
  }

  /** Writes at the bottom of the message region, which scrolls up. */
  #writeLines(text: string): void {
    this.#out.write(`${ESC}${this.rows - 2};1H\r\n${text.split('\n').join('\r\n')}${ESC}0m`);
  }

  /** Clears and draws everything at the current size: the last lines that fit, the status bar, the input line. */
  #redraw(): void {
    this.#out.write(`${ESC}r${ESC}0m${ESC}2J`);
    this.#layout();
    // Lines wrap at the new width and scroll each other out: enough to fill the region, never fewer.
    for (const text of this.#recent.slice(-(this.rows - 2))) this.#writeLines(text);
    this.#drawStatus();
  }

  #layout(): void {
    this.#out.write(`${ESC}1;${this.rows - 2}r`);
    this.#drawStatus();
  }

  #drawStatus(): void {
    const text = this.#status.length > this.columns ? this.#status.slice(0, this.columns) : this.#status.padEnd(this.columns);
    this.#out.write(`${ESC}${this.rows - 1};1H${ESC}2K${ESC}7m${text}${ESC}0m`);
    this.#drawInput();
  }

  /** Draws the input line, scrolled sideways so the cursor is visible, and puts the cursor in it. */
  #drawInput(): void {
    const width = this.columns - this.#prompt.length - 1;
    const start = Math.max(0, this.#cursor - width);
    const shown = this.#buffer.slice(start, start + width).join('');
    this.#out.write(`${ESC}${this.rows};1H${ESC}2K${ESC}1m${this.#prompt}${ESC}0m${shown}${ESC}${this.rows};${this.#prompt.length + 1 + this.#cursor - start}H`);
  }

  #key(str: string | undefined, key: Key): void {
    if (key.ctrl) {
      switch (key.name) {
        case 'c':
          return this.#onQuit();
        case 'd':
          if (this.#buffer.length === 0) this.#onQuit();
          return;
        case 'u':
          this.#buffer = this.#buffer.slice(this.#cursor);
          this.#cursor = 0;
          return this.#drawInput();
        case 'w': {
          let i = this.#cursor;
          while (i > 0 && this.#buffer[i - 1] === ' ') i--;
          while (i > 0 && this.#buffer[i - 1] !== ' ') i--;
          this.#buffer.splice(i, this.#cursor - i);
          this.#cursor = i;
          return this.#drawInput();
        }
        case 'a':
          this.#cursor = 0;
          return this.#drawInput();
        case 'e':
          this.#cursor = this.#buffer.length;
          return this.#drawInput();
        default:
          return;
      }
    }
    switch (key.name) {
      case 'return':
      case 'enter':
        return this.#submit();
      case 'backspace':
        if (this.#cursor > 0) this.#buffer.splice(--this.#cursor, 1);
        return this.#drawInput();
      case 'delete':
        this.#buffer.splice(this.#cursor, 1);
        return this.#drawInput();
      case 'left':
        this.#cursor = Math.max(0, this.#cursor - 1);
        return this.#drawInput();
      case 'right':
        this.#cursor = Math.min(this.#buffer.length, this.#cursor + 1);
        return this.#drawInput();
      case 'home':
        this.#cursor = 0;
        return this.#drawInput();
      case 'end':
        this.#cursor = this.#buffer.length;
        return this.#drawInput();
      case 'up':
        return this.#recall(-1);
      case 'down':
        return this.#recall(1);
      default:
        break;
    }
    if (str === undefined || key.meta) return;
    const chars = [...printable(str).replace(/\n/g, '')];
    if (chars.length === 0) return;
    this.#buffer.splice(this.#cursor, 0, ...chars);
    this.#cursor += chars.length;
    this.#drawInput();
  }

  #submit(): void {
    const line = this.#buffer.join('');
    this.#buffer = [];
    this.#cursor = 0;
    if (line.trim() !== '' && this.#history.at(-1) !== line) this.#history.push(line);
    this.#historyAt = this.#history.length;
    this.#drawInput();
    if (line.trim() !== '') this.#onLine(line);
  }

  #recall(step: number): void {
    const at = Math.min(this.#history.length, Math.max(0, this.#historyAt + step));
    this.#historyAt = at;
    this.#buffer = [...(this.#history[at] ?? '')];
    this.#cursor = this.#buffer.length;
    this.#drawInput();
  }
}
