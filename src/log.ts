// JSON logs (pino). One logger per broker; HUBBUB_LOG_LEVEL sets the level
// (tests default to silent unless it is set).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env.HUBBUB_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: 'hubbub', level });
}
