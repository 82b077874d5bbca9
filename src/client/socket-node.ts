// SocketFactory over the ws package, for Node.
import { WebSocket } from 'ws';
import type { ClientSocket, SocketFactory } from './socket.js';

export const nodeSocket: SocketFactory = (url, on): ClientSocket => {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  let closed = false;
  ws.on('open', () => on.open());
  ws.on('message', (data, isBinary) => {
    if (!isBinary) on.message(data.toString());
  });
  // Without a listener an 'error' (refused, reset) would be thrown; 'close' follows it and says enough.
  ws.on('error', () => {});
  ws.on('close', (code, reason) => {
    if (closed) return;
    closed = true;
    on.close(code, reason.toString());
  });
  return {
    send: (text) => ws.send(text),
    close: (code, reason) => ws.close(code, reason),
    abandon: () => {
      closed = true;
      ws.terminate();
    },
  };
};
