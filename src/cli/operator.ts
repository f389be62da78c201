import type { Command } from 'commander';
import { parsePort, UsageError } from './options.ts';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createLogger } from '../common/log.ts';
import { startHealthServer } from '../common/health-server.ts';
import { loadKubeConfig } from '../common/kubeconfig.ts';
import { AnchorLBOperator } from '../operator/operator.ts';
import { DEFAULT_RBAC_DIR, loadRbacTemplates } from '../operator/templates.ts';

export function registerOperatorCommand(program: Command): void {
  program
    .command('operator')
    .description('deploy and keep in shape the controller and speakers described by AnchorLB objects')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: KUBECONFIG, ~/.kube/config, then in-cluster)')
    .option('--namespace <namespace>', 'namespace of the AnchorLB objects and of what they deploy', process.env.POD_NAMESPACE ?? 'anchorlb-system')
    .option('--rbac-dir <dir>', 'directory with the controller.yaml and speaker.yaml RBAC manifests', DEFAULT_RBAC_DIR)
    .option('--metrics-port <port>', 'port for /metrics, /healthz and /readyz (0 = any)', parsePort, 7471)
    .option('--metrics-host <host>', 'address for the metrics server', '0.0.0.0')
    .action(async (options: { kubeconfig?: string; namespace: string; rbacDir: string; metricsPort: number; metricsHost: string }) => {
      const logger = createLogger('operator');
      const registry = new Registry();
      collectDefaultMetrics({ register: registry });
      const usage = (flag: string, value: string, error: unknown): UsageError => new UsageError(`${flag} ${value}: ${error instanceof Error ? error.message : String(error)}`);
      let rbacTemplates: Awaited<ReturnType<typeof loadRbacTemplates>>;
      try {
        rbacTemplates = await loadRbacTemplates(options.rbacDir);
      } catch (error) {
        throw usage('--rbac-dir', options.rbacDir, error);
      }
      let kubeConfig: ReturnType<typeof loadKubeConfig>;
      try {
        kubeConfig = loadKubeConfig(options.kubeconfig);
      } catch (error) {
        throw usage('--kubeconfig', options.kubeconfig ?? '(default)', error);
      }
      const operator = new AnchorLBOperator({ kubeConfig, namespace: options.namespace, logger, rbacTemplates });
      let ready = false;
      const health = await startHealthServer({ host: options.metricsHost, port: options.metricsPort, registry, ready: () => ready });
      // The library exits the process on a watch error: the Deployment restarts it and everything is re-derived.
      await operator.start();
      ready = true;
      logger.info({ namespace: options.namespace, metricsPort: health.port }, 'operator running');
      const shutdown = async () => {
        await operator.shutdown();
        await health.close();
        process.exit(0);
      };
      process.once('SIGTERM', () => void shutdown());
      process.once('SIGINT', () => void shutdown());
    });
}
