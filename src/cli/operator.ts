import type { Command } from 'commander';
import { runDaemon } from './daemon.ts';
import { parsePort, UsageError } from './options.ts';
import { createLogger } from '../common/log.ts';
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
      await runDaemon({
        name: 'operator',
        logger,
        metrics: { host: options.metricsHost, port: options.metricsPort },
        start: async () => {
          const operator = new AnchorLBOperator({ kubeConfig, namespace: options.namespace, logger, rbacTemplates });
          // The library exits the process on a watch error: the Deployment restarts it and everything is re-derived.
          await operator.start();
          return { daemon: { stop: () => operator.shutdown() }, fields: { namespace: options.namespace } };
        },
      });
    });
}
