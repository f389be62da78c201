import { pino, type Logger } from 'pino';

export type { Logger };

/** One structured logger per component; level from ANCHORLB_LOG_LEVEL (default info). */
export function createLogger(component: string, level = process.env.ANCHORLB_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: component, level, base: { component } });
}
