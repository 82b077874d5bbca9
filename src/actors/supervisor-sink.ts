// The sink the supervisor gives its backplane: every report becomes a message
// in the supervisor's mailbox, handled in order with everything else (reports
// may come from I/O callbacks, outside any scheduler turn).
import type { BackplaneSink } from '../backplane/backplane.js';
import type { SupervisorMsg } from './supervisor-messages.js';

export function supervisorSink(send: (msg: SupervisorMsg) => void): BackplaneSink {
  return {
    roomMessage: (room, seq, payload) => send({ type: 'room-message', room, seq, payload }),
    published: (who, room, seq, duplicate) => send({ type: 'published', who, room, seq, duplicate: duplicate === true }),
    publishFailed: (who, room, reason) => send({ type: 'publish-failed', who, room, reason }),
    history: (who, room, kind, result) => send({ type: 'history', who, room, kind, result }),
    historyFailed: (who, room, kind, reason) => send({ type: 'history-failed', who, room, kind, reason }),
    linkChanged: (up) => send({ type: 'link', up }),
    roomReady: (room, seq) => send({ type: 'room-ready', room, seq }),
    remotePresence: (room, user, event) => send({ type: 'remote-presence', room, user, event }),
    claimed: (who, user, ok) => send({ type: 'claimed', who, user, ok }),
    directMessage: (to, payload) => send({ type: 'direct-message', to, payload }),
    dmResult: (who, to, outcome) => send({ type: 'dm-result', who, to, outcome }),
    members: (who, room, users, count) => send({ type: 'members', who, room, users, count }),
    roomList: (who, rooms) => send({ type: 'room-list', who, rooms }),
  };
}
