// Close codes in people's words: what the chat page and the terminal client
// say when a connection ends. One table for both (the page loads it through
// /client/browser.js). The number itself is for the curious: the page puts it
// in a tooltip (closeDetail), the terminal leaves it out. What each code means
// to a program is in docs/errors.md, section 3.
import { CloseCode } from './wire.js';

const WORDS: ReadonlyMap<number, string> = new Map([
  [CloseCode.normal, 'the connection was closed'],
  [CloseCode.shutdown, 'the server restarted'],
  [1002, 'the connection broke (the server could not read what was sent)'],
  [CloseCode.binaryFrame, 'the server could not read what was sent'],
  [1006, 'connection lost'],
  [1007, 'the server could not read what was sent'],
  [CloseCode.policy, 'the server refused this connection'],
  [CloseCode.tooBig, 'a message was too big for the server'],
  [CloseCode.actorFailed, 'the server had a problem with this connection'],
  [CloseCode.slowConsumer, 'too many messages, slow down'],
  [CloseCode.kicked, 'removed by the server'],
  [CloseCode.replaced, 'this name was taken over by a newer connection of yours'],
]);

/** What a person is told when a connection closed with `code`: never the number. */
export function closeWords(code: number): string {
  return WORDS.get(code) ?? 'connection lost';
}

/** The code and the broker's reason, for a tooltip or a debug view. */
export function closeDetail(code: number, reason: string): string {
  return `close code ${code}${reason ? `: ${reason}` : ''}`;
}
