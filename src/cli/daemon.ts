/**
 * What every long-running command (controller, speaker, operator) does around its own work:
 * Prometheus registry with the process metrics, the /metrics, /healthz and /readyz server
 * (ready once started), SIGTERM/SIGINT → one orderly stop → exit 0, and an error that ends
 * the process logged with its stack (pino's `err`) → exit 1.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../common/log.ts';
import { startHealthServer } from '../common/health-server.ts';

export interface Daemon {
  /** Called once, on the first SIGTERM or SIGINT. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** The command, as in `anchorlb NAME`: the log line `NAME running`. */
  name: string;
  logger: Logger;
  metrics: { host: string; port: number };
  /** Builds and starts the daemon with the registry its metrics go to; fields for the `running` log line. */
  start(registry: Registry): Promise<{ daemon: Daemon; fields?: Record<string, unknown> }>;
}

export async function runDaemon(options: DaemonOptions): Promise<void> {
  const { logger, name } = options;
  const fatal = (error: unknown, what: string): void => {
    logger.fatal({ err: error }, what);
    process.exit(1);
  };
  process.on('uncaughtException', (error) => fatal(error, 'uncaught exception'));
  process.on('unhandledRejection', (error) => fatal(error, 'unhandled promise rejection'));
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let ready = false;
  const health = await startHealthServer({ host: options.metrics.host, port: options.metrics.port, registry, ready: () => ready });
  let started: Awaited<ReturnType<DaemonOptions['start']>>;
  try {
    started = await options.start(registry);
  } catch (error) {
    await health.close();
    throw error;
  }
  const { daemon, fields } = started;
  ready = true;
  logger.info({ ...fields, metricsPort: health.port }, `${name} running`);
  let stopping = false;
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${name} stopping`);
    try {
      await daemon.stop();
      await health.close();
    } catch (error) {
      fatal(error, `${name} did not stop cleanly`);
      return;
    }
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
