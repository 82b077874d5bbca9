// The wire contract as the client sees it: the ops it sends and the events it
// receives. A copy of src/transport/protocol.ts's types, kept free of Node so
// the browser build can use it; test/client-wire.test.ts fails to compile if
// the two drift apart.

/** A client's op id, echoed in its ack or error as given. */
export type OpId = string | number;

export type ErrorCode =
  | 'bad_json'
  | 'bad_request'
  | 'unknown_op'
  | 'not_in_room'
  | 'unknown_user'
  | 'mailbox_full'
  | 'overloaded'
  | 'internal';

export type ClientOp =
  /** `since`: resume after this room seq (history; brokers without it ignore the field). */
  | { op: 'join'; room: string; id?: OpId; since?: number }
  | { op: 'leave'; room: string; id?: OpId }
  | { op: 'send'; room: string; text: string; id?: OpId }
  | { op: 'dm'; to: string; text: string; id?: OpId }
  | { op: 'who'; room: string; id?: OpId }
  | { op: 'ping'; id?: OpId };

export type ServerEvent =
  | { type: 'welcome'; session: string; user: string }
  | { type: 'joined'; room: string; users: string[]; count: number }
  | { type: 'left'; room: string }
  | { type: 'presence'; room: string; user: string; event: 'join' | 'leave' }
  | { type: 'presence'; room: string; event: 'batch'; joined: string[]; left: string[]; count: number }
  | { type: 'message'; room: string; from: string; text: string; ts: number; seq: number }
  | { type: 'ack'; id: OpId; seq?: number }
  | { type: 'dm'; from: string; to: string; text: string; ts: number }
  | { type: 'who'; room: string; users: string[]; count: number }
  | { type: 'pong'; id?: OpId }
  | { type: 'error'; code: ErrorCode; message: string; ref?: OpId };

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
