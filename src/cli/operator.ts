import type { Command } from 'commander';
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
    .option('--metrics-port <port>', 'port for /metrics, /healthz and /readyz (0 = any)', '7471')
    .option('--metrics-host <host>', 'address for the metrics server', '0.0.0.0')
    .action(async (options: { kubeconfig?: string; namespace: string; rbacDir: string; metricsPort: string; metricsHost: string }) => {
      const logger = createLogger('operator');
      const registry = new Registry();
      collectDefaultMetrics({ register: registry });
      const operator = new AnchorLBOperator({
        kubeConfig: loadKubeConfig(options.kubeconfig),
        namespace: options.namespace,
        logger,
        rbacTemplates: await loadRbacTemplates(options.rbacDir),
      });
      let ready = false;
      const health = await startHealthServer({ host: options.metricsHost, port: Number(options.metricsPort), registry, ready: () => ready });
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
