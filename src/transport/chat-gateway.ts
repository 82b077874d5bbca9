// ChatGateway: the `/ws` endpoint. Turns upgraded sockets into connection
// actors and socket events into mailbox messages; flushes output per slice.
//
// Before the handshake it applies the edge's checks, cheapest first: Origin
// (403; origin-policy.ts), token (401; auth.ts); the caps on connections were
// applied at accept (edge-gate.ts). After it, it
// decides no policy: a frame is offered to the socket's actor (which owns
// input backpressure: what goes in, when reading stops and resumes), a close
// becomes `socket-closed`, and everything else is the actors' business.
// Sockets call the gateway directly for their events (HubSocket.emit): no
// listener, closure or listener table per connection.
import type { RoomRules } from '../actors/room-access.js';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type ServerOptions } from 'ws';
import { ConnectionActor, type ConnectionEnv } from '../actors/connection-actor.js';
import type { Scheduler } from '../actors/scheduler.js';
import { CLOSE_UNSUPPORTED_DATA } from '../constants.js';
import { UpgradeGuard } from './auth.js';
import type { OriginPolicy } from './origin-policy.js';
import { HeartbeatWheel } from './heartbeat.js';
import { refuseUpgrade } from './http-server.js';
import { HubSocket, type SocketOwner } from './hub-socket.js';
import { releaseWriteMemo } from './write-memo.js';
import { HubCounters } from './metrics.js';
import { cleanUserName } from '../protocol/protocol.js';

export interface ChatGatewayOptions {
  maxFrameBytes: number;
  maxOutboxBytes: number;
  maxOutboxFrames: number;
  closeTimeoutMs: number;
  heartbeatIntervalMs: number;
  heartbeatBuckets: number;
  mailboxCapacity: number;
  jwtSecret: string | null;
}

/** Who a connection asks to be, as the edge established it (see UpgradeGuard). */
export interface AskedIdentity {
  /** The user id: a verified token's sub, or the URL's ?name= (null: none or unusable, a guest name is made). */
  user: string | null;
  /** True for a token's sub: the connection is that user, in one more tab if it is already online. */
  verified: boolean;
  /** A display name beside the id (the token's name claim). */
  name: string | null;
  /** The token's rooms claim: what this user may read and write; null: the broker's room policy decides. */
  rooms: RoomRules | null;
  /** `?resume=`: the secret of an earlier welcome, asking for its name back (no token only); null: none. */
  resume: string | null;
}

/** Longest `?resume=` read: a secret is 24 characters; anything much longer is no secret of ours. */
const MAX_RESUME_LENGTH = 64;

export class ChatGateway implements SocketOwner {
  readonly #wss: WebSocketServer;
  readonly heartbeat: HeartbeatWheel;
  readonly #env: ConnectionEnv;
  readonly #log: Logger;
  readonly #mailboxCapacity: number;
  readonly maxOutboxBytes: number;
  readonly maxOutboxFrames: number;
  readonly counters = new HubCounters();
  readonly guard: UpgradeGuard;
  readonly origins: OriginPolicy;
  #accepting = true;
  #dirty: HubSocket[] = [];
  /** Sockets upgraded since the last slice ended, their 101 head held back (corked) until then. */
  #heads: HubSocket[] = [];
  #nextId = 0;
  /** Connections accepted over the gateway's life. */
  accepted = 0;

  constructor(env: ConnectionEnv, log: Logger, options: ChatGatewayOptions, origins: OriginPolicy) {
    this.#env = env;
    this.#log = log;
    this.#mailboxCapacity = options.mailboxCapacity;
    this.maxOutboxBytes = options.maxOutboxBytes;
    this.maxOutboxFrames = options.maxOutboxFrames;
    this.guard = new UpgradeGuard(options);
    this.origins = origins;
    // closeTimeout is ws >= 8.19 and not yet in @types/ws: a non-literal object skips the excess-property check.
    const serverOptions: ServerOptions<typeof HubSocket> & { closeTimeout: number } = {
      autoPong: false, // HubSocket answers pings itself (ws's autoPong keeps a closure per socket)
      noServer: true,
      clientTracking: false, // the heartbeat wheel already holds every socket
      perMessageDeflate: false, // compression would defeat encode-once fan-out
      maxPayload: options.maxFrameBytes, // over it ws closes with 1009
      closeTimeout: options.closeTimeoutMs, // a peer that never answers our close frame is dropped
      WebSocket: HubSocket,
    };
    this.#wss = new WebSocketServer(serverOptions);
    this.heartbeat = new HeartbeatWheel(options.heartbeatIntervalMs, options.heartbeatBuckets, () => this.counters.framesIn);
    env.scheduler.onSliceEnd(() => this.#flush());
  }

  get scheduler(): Scheduler {
    return this.#env.scheduler;
  }

  /** Checks, then completes, a WebSocket upgrade on /ws. Called by the HTTP server's upgrade router. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const batch = url.searchParams.get('batch') === '1';
    this.admit(req, socket, url, (who) => {
      // The 101 head waits in the socket for the welcome: one write for both (see #flush).
      socket.cork();
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        (ws as HubSocket).batch = batch;
        this.adopt(ws as HubSocket, who, 'c');
        this.#heads.push(ws as HubSocket);
      });
    });
  }

  /**
   * The edge's checks, before any handshake, for every chat endpoint (/ws and
   * /ws/text alike): Origin (403), token (401). Calls
   * `handshake` with who the connection is (the token's sub, or the URL's name
   * when there is no secret), or refuses the socket.
   */
  admit(req: IncomingMessage, socket: Duplex, url: URL, handshake: (who: AskedIdentity) => void): void {
    if (!this.#accepting) {
      socket.destroy();
      return;
    }
    if (!this.origins.allows(req)) {
      this.counters.originRefused++;
      refuseUpgrade(socket, 403, 'Forbidden');
      return;
    }
    if (!this.guard.authenticates) {
      const resume = url.searchParams.get('resume');
      handshake({
        user: cleanUserName(url.searchParams.get('name')), verified: false, name: null, rooms: null,
        resume: resume !== null && resume !== '' && resume.length <= MAX_RESUME_LENGTH ? resume : null,
      });
      return;
    }
    this.guard.identify(req, url).then(
      (id) => {
        if ('refused' in id) {
          this.counters.authRefused++;
          this.#log.debug({ remote: req.socket.remoteAddress, why: id.refused }, 'upgrade refused: token');
          const why = id.refused.replace(/["\\]/g, "'");
          refuseUpgrade(socket, 401, 'Unauthorized', { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${why}"` });
        } else if (socket.destroyed || !this.#accepting) {
          socket.destroy(); // the client went, or shutdown began, while its token was checked
        } else {
          handshake({ user: id.user, verified: true, name: id.name, rooms: id.rooms, resume: null });
        }
      },
      (err: unknown) => {
        this.#log.error({ err }, 'token verification failed');
        refuseUpgrade(socket, 500, 'Internal Server Error');
      },
    );
  }

  /** Stops taking new connections (shutdown); upgrades still checking a token are dropped. */
  stopAccepting(): void {
    this.#accepting = false;
  }

  markDirty(socket: HubSocket): void {
    this.#dirty.push(socket);
  }

  /**
   * Makes an upgraded socket a connection: its actor, listeners, heartbeat and
   * registration. Every gateway's sockets come through here (the text gateway's
   * too), so all share one flush per slice and one heartbeat wheel.
   */
  adopt(ws: HubSocket, who: AskedIdentity, idPrefix: string): ConnectionActor {
    const actor = new ConnectionActor(`${idPrefix}${++this.#nextId}`, ws, this.#env, who.user, this.#mailboxCapacity);
    actor.verified = who.verified;
    actor.displayName = who.name;
    actor.rooms = who.rooms;
    actor.resume = who.resume;
    ws.actor = actor;
    ws.owner = this; // from here on the socket's events come to onFrame, onSocketClosed, onSocketError
    this.heartbeat.add(ws);
    this.accepted++;
    this.#env.scheduler.spawn(actor);
    this.#env.scheduler.send(this.#env.supervisor, { type: 'register', actor }, true);
    return actor;
  }

  /**
   * Slice-end hook: every socket that got output this slice writes it, once.
   * Members of a room get the same frames, so a multi-frame write is built
   * once and shared by the sockets that follow with the same outbox; the
   * memo is dropped here so that no buffer outlives the flush.
   */
  #flush(): void {
    const dirty = this.#dirty;
    if (dirty.length > 0) {
      this.#dirty = [];
      for (let i = 0; i < dirty.length; i++) dirty[i].flushOutbox();
      releaseWriteMemo();
    }
    if (this.#heads.length > 0) this.#releaseHeads();
  }

  /**
   * A new connection's 101 head is corked in the socket until the slice that
   * registers it ends, so that it goes out in one write with the welcome
   * (flushOutbox uncorks), not two: a syscall and a TCP segment less per
   * connection, and one read less for the client. Whatever did not flush a
   * welcome in that slice (a name still being claimed elsewhere, a refusal's
   * close frame) is let go here, at the latest.
   */
  #releaseHeads(): void {
    const heads = this.#heads;
    this.#heads = [];
    for (let i = 0; i < heads.length; i++) heads[i].releaseHead();
  }

  onFrame(ws: HubSocket, data: Buffer, isBinary: boolean): void {
    const counters = this.counters;
    counters.framesIn++;
    counters.bytesIn += data.length;
    if (isBinary) {
      ws.close(CLOSE_UNSUPPORTED_DATA, 'binary frames are not supported; send JSON text');
      return;
    }
    // Whether it goes in, and when reading stops and resumes, is the actor's call. A frame that is a small part of
    // the buffer it sits in (ws hands out views of its reads) is copied: held as a view, it would keep the whole
    // read alive while it waits, which the actor's byte bound on waiting frames would not see.
    ws.actor!.offer(data.length * 2 < data.buffer.byteLength ? Buffer.from(data) : data, ws.isPaused);
  }

  onSocketClosed(ws: HubSocket, code: number, reason: Buffer): void {
    this.heartbeat.remove(ws);
    this.counters.countClose(code);
    this.#env.scheduler.send(ws.actor!, { type: 'socket-closed', code, reason: reason.toString() }, true);
  }

  onSocketError(ws: HubSocket, err: Error): void {
    // ws has already chosen the close code (1009 too big, 1007 bad UTF-8, 1002 protocol).
    this.#log.debug({ actor: ws.actor?.id, err: err.message }, 'socket error');
  }

  stop(): void {
    this.heartbeat.stop();
  }
}
