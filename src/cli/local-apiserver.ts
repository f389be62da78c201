import type { Command } from 'commander';
import { startLocalApiServer, type LocalApiServerOptions } from '../localcluster/index.ts';
import { parsePort } from './options.ts';

interface LocalApiServerCliOptions {
  host: string;
  port: string;
  tls?: boolean;
  dataDir?: string;
  crds?: string[];
  faultInjection?: boolean;
}

function portFlag(flag: string, text: string): number {
  try {
    return parsePort(text);
  } catch (error) {
    throw new Error(`${flag}: ${(error as Error).message}`, { cause: error });
  }
}

/** `anchorlb local-apiserver`: the project's own API server, until SIGTERM or SIGINT. */
export function registerLocalApiServerCommand(program: Command): void {
  program
    .command('local-apiserver')
    .description('Run the project\'s own Kubernetes API server (for tests, the demo, or trying anchorlb without a cluster)')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', '0')
    .option('--tls', 'serve HTTPS with a generated CA and require bearer tokens')
    .option('--data-dir <dir>', 'where kubeconfigs, certificates and the snapshot kept across restarts go')
    .option('--crds <path...>', 'CRD manifests (files or directories) to register at start')
    .option('--fault-injection', 'enable POST /anchorlb-admin/faults (admin token, loopback only)')
    .action(async (cli: LocalApiServerCliOptions) => {
      let options: LocalApiServerOptions;
      try {
        options = {
          host: cli.host,
          port: portFlag('--port', cli.port),
          tls: cli.tls === true,
          faultInjection: cli.faultInjection === true,
          ...(cli.dataDir !== undefined ? { dataDir: cli.dataDir } : {}),
          ...(cli.crds !== undefined ? { crdFiles: cli.crds } : {}),
        };
      } catch (error) {
        process.stderr.write(`error: ${(error as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      const server = await startLocalApiServer(options).catch((error: unknown) => {
        process.stderr.write(`error: ${(error as Error).message}\n`);
        process.exitCode = 1;
        return undefined;
      });
      if (!server) return;
      process.stdout.write(`url: ${server.url}\nkubeconfig: ${server.kubeconfigPath()}\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          void server.stop().then(resolve);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    });
}
