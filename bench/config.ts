// Every number of the bench, for the full run and for --quick. The full run
// must finish in under 30 minutes on the 2-core machine, --quick in under 3.

export interface BenchConfig {
  quick: boolean;
  runs: number;
  idle: {
    /** Connection counts measured in one process, ascending (ramped one after the other). */
    ns: number[];
    roomSize: number;
    settleMs: number;
    /**
     * The idle window opens at least this long after a Node server's last
     * connection: V8's memory reducer runs up to three GCs about 8 s after a
     * heap stops growing, a one-time cost of the ramp, not of idleness.
     */
    quietMs: number;
    /** The idle CPU window at the largest N, ms. */
    windowMs: number;
  };
  fanout: {
    rooms: { members: number; startRate: number }[];
    /** Each step multiplies the send rate by this. */
    factor: number;
    maxSteps: number;
    warmMs: number;
    windowMs: number;
    /** Latencies of the window's messages are collected this long after it ends. */
    graceMs: number;
    /** Sending connections per load worker. */
    sendersPerWorker: number;
    textBytes: number;
  };
  manyRooms: { conns: number; roomSize: number; periodMs: number; warmMs: number; windowMs: number };
  /** client: the generator's WebSocket client in the storm (`--storm-client`): LeanSocket, or ws's as before. */
  storm: { conns: number; concurrencyPerWorker: number; workers: number; client: 'lean' | 'ws' };
  noisy: { roomSize: number; quietRate: number; warmMs: number; windowMs: number };
  /** The hostile scenario (scenarios/hostile.ts): windows, and each attack's size. */
  hostile: {
    quietMs: number;
    floodMs: number;
    slowlorisSockets: number;
    /** Longer than Hubbub's headers timeout, so that its closing them shows. */
    slowlorisHoldMs: number;
    joinRooms: number;
    fillRooms: number;
    attackTimeoutMs: number;
    hubbubArgs: string[];
    /** Only these attacks (--attacks); all when unset. */
    attacks?: string[];
  };
  micro: { actorMessages: number; idleActors: number; roomJoins: number; chunk: number };
  /** Scale-out fan-out (scenarios/workers.ts): one room, members on LeanSocket, few senders. */
  workers: {
    members: number;
    startRate: number;
    factor: number;
    maxSteps: number;
    warmMs: number;
    windowMs: number;
    graceMs: number;
    sendersPerWorker: number;
    loadWorkers: number;
    textBytes: number;
    /** Members connect with ?batch=1 (several events per frame). */
    batch: boolean;
  };
  /** Opt-in scale-out: idle connections across `serve --workers N` (--only idle100k). */
  scaleIdle: { conns: number; workers: number; roomSize: number; settleMs: number; quietMs: number; windowMs: number };
  /** Opt-in scale-out: a storm whose connections all stay open, across `serve --workers N` (--only storm50k). */
  scaleStorm: { conns: number; workers: number; concurrencyPerWorker: number };
  /** Reconnect storm with resume (scenarios/resume.ts): clients of one room, its send rate, the settle and steady windows. */
  resume: { conns: number; rate: number; workers: number; concurrencyPerWorker: number; settleMs: number; steadyMs: number };
  /** Largest number of connections one load worker holds (files are capped at 20,000). */
  connsPerWorker: number;
  /** Extra flags for `hubbub serve` in the idle scenarios (--heartbeat-ms N sets them). */
  idleHubbubArgs: string[];
}

export function benchConfig(quick: boolean): BenchConfig {
  if (quick) {
    return {
      quick,
      runs: 1,
      idle: { ns: [500, 2000], roomSize: 10, settleMs: 300, quietMs: 0, windowMs: 3000 },
      fanout: {
        rooms: [{ members: 300, startRate: 200 }],
        factor: 2, maxSteps: 3, warmMs: 300, windowMs: 800, graceMs: 300, sendersPerWorker: 5, textBytes: 48,
      },
      manyRooms: { conns: 1000, roomSize: 10, periodMs: 10_000, warmMs: 500, windowMs: 2000 },
      storm: { conns: 1000, concurrencyPerWorker: 100, workers: 2, client: 'lean' },
      noisy: { roomSize: 10, quietRate: 50, warmMs: 300, windowMs: 1500 },
      hostile: {
        quietMs: 1500, floodMs: 2000, slowlorisSockets: 100, slowlorisHoldMs: 3000, joinRooms: 1000, fillRooms: 10,
        attackTimeoutMs: 30_000, hubbubArgs: ['--headers-timeout-ms', '2000'],
      },
      micro: { actorMessages: 200_000, idleActors: 20_000, roomJoins: 20_000, chunk: 5_000 },
      workers: {
        members: 200, startRate: 400, factor: 4, maxSteps: 2, warmMs: 300, windowMs: 800, graceMs: 300,
        sendersPerWorker: 2, loadWorkers: 2, textBytes: 48, batch: false,
      },
      scaleIdle: { conns: 3000, workers: 2, roomSize: 10, settleMs: 300, quietMs: 0, windowMs: 3000 },
      scaleStorm: { conns: 2000, workers: 2, concurrencyPerWorker: 100 },
      resume: { conns: 1000, rate: 10, workers: 2, concurrencyPerWorker: 100, settleMs: 500, steadyMs: 1000 },
      connsPerWorker: 12_000,
      idleHubbubArgs: [],
    };
  }
  return {
    quick,
    runs: 3,
    idle: { ns: [1000, 10_000, 19_000], roomSize: 10, settleMs: 1500, quietMs: 12_000, windowMs: 30_000 },
    fanout: {
      rooms: [{ members: 1000, startRate: 50 }, { members: 10_000, startRate: 4 }],
      factor: 2, maxSteps: 8, warmMs: 500, windowMs: 1500, graceMs: 500, sendersPerWorker: 5, textBytes: 48,
    },
    manyRooms: { conns: 10_000, roomSize: 10, periodMs: 10_000, warmMs: 1000, windowMs: 8000 },
    storm: { conns: 25_000, concurrencyPerWorker: 256, workers: 4, client: 'lean' },
    noisy: { roomSize: 10, quietRate: 50, warmMs: 500, windowMs: 4000 },
    hostile: {
      quietMs: 3000, floodMs: 4000, slowlorisSockets: 200, slowlorisHoldMs: 12_000, joinRooms: 5000, fillRooms: 90,
      attackTimeoutMs: 60_000, hubbubArgs: [],
    },
    micro: { actorMessages: 1_000_000, idleActors: 100_000, roomJoins: 100_000, chunk: 10_000 },
    workers: {
      members: 1000, startRate: 500, factor: 2, maxSteps: 6, warmMs: 500, windowMs: 1500, graceMs: 500,
      sendersPerWorker: 2, loadWorkers: 2, textBytes: 48, batch: false,
    },
    scaleIdle: { conns: 100_000, workers: 6, roomSize: 10, settleMs: 1500, quietMs: 12_000, windowMs: 30_000 },
    scaleStorm: { conns: 50_000, workers: 4, concurrencyPerWorker: 256 },
    resume: { conns: 10_000, rate: 2, workers: 4, concurrencyPerWorker: 256, settleMs: 1500, steadyMs: 2000 },
    connsPerWorker: 12_000,
    idleHubbubArgs: [],
  };
}
