// The wire contract as the client sees it: the ops it sends and the events it
// receives. The types ARE the broker's (src/protocol/protocol.ts): type-only
// imports are erased at compile time, so the browser build loads no Node code,
// and client and broker cannot drift apart.
import type { ErrorCode } from '../protocol/errors.js';
import type { ClientOp, OpId, ServerEvent } from '../protocol/protocol.js';

export type { ClientOp, ErrorCode, OpId, ServerEvent };

export type EventOf<T extends ServerEvent['type']> = Extract<ServerEvent, { type: T }>;
export type WelcomeEvent = EventOf<'welcome'>;
export type JoinedEvent = EventOf<'joined'>;
export type LeftEvent = EventOf<'left'>;
export type PresenceEvent = EventOf<'presence'>;
export type ChatMessageEvent = EventOf<'message'>;
export type AckEvent = EventOf<'ack'>;
export type DmEvent = EventOf<'dm'>;
export type WhoEvent = EventOf<'who'>;
export type ServerErrorEvent = EventOf<'error'>;
export type HistoryEvent = EventOf<'history'>;

/** Close codes the broker uses (docs: wire contract). */
export const CloseCode = {
  normal: 1000,
  shutdown: 1001,
  binaryFrame: 1003,
  policy: 1008,
  tooBig: 1009,
  actorFailed: 1011,
  slowConsumer: 1013,
  kicked: 4000,
  replaced: 4001,
} as const;

/** Parses one server frame; null when it is not an event object (never throws). */
export function parseServerEvent(text: string): ServerEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || typeof (value as { type?: unknown }).type !== 'string') return null;
  return value as ServerEvent;
}
