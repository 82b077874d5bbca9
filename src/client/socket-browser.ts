// SocketFactory over the platform WebSocket (browsers, Deno, Node >= 22).
import type { ClientSocket, SocketFactory } from './socket.js';

export const browserSocket: SocketFactory = (url, on): ClientSocket => {
  const ws = new WebSocket(url);
  let closed = false;
  ws.onopen = () => on.open();
  ws.onmessage = (e: MessageEvent) => {
    if (typeof e.data === 'string') on.message(e.data);
  };
  ws.onclose = (e: CloseEvent) => {
    if (closed) return;
    closed = true;
    on.close(e.code, e.reason);
  };
  return {
    send: (text) => ws.send(text),
    close: (code, reason) => ws.close(code, reason),
    abandon: () => {
      closed = true; // the client has moved on: no close callback for this one
      ws.onopen = ws.onmessage = ws.onclose = null;
      try {
        ws.close();
      } catch {
        // already closing: nothing left to do
      }
    },
  };
};
