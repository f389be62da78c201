import type { Command } from 'commander';
import { createLogger } from '../common/log.ts';
import { loadKubeConnection } from '../kube/connection.ts';
import { ServiceController } from '../reconcilers/services.ts';
import { runDaemon } from './daemon.ts';
import { parsePort, UsageError } from './options.ts';

export function registerControllerCommand(program: Command): void {
  program
    .command('controller')
    .description('assign addresses from IPAddressPools to Services of type LoadBalancer')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: KUBECONFIG, ~/.kube/config, then in-cluster)')
    .option('--pool-namespace <namespace>', 'namespace holding the IPAddressPools', process.env.POD_NAMESPACE ?? 'anchorlb-system')
    .option('--load-balancer-class <class>', 'handle only Services of this loadBalancerClass (default: only Services without one)')
    .option('--metrics-port <port>', 'port for /metrics, /healthz and /readyz (0 = any)', parsePort, 7472)
    .option('--metrics-host <host>', 'address for the metrics server', '0.0.0.0')
    .action(async (options: { kubeconfig?: string; poolNamespace: string; loadBalancerClass?: string; metricsPort: number; metricsHost: string }) => {
      const logger = createLogger('controller');
      const kubeConfig = await loadKubeConnection(options.kubeconfig).catch((error: unknown) => {
        throw new UsageError(`--kubeconfig: "${options.kubeconfig ?? '(default)'}": ${error instanceof Error ? error.message : String(error)}`);
      });
      await runDaemon({
        name: 'controller',
        logger,
        metrics: { host: options.metricsHost, port: options.metricsPort },
        start: async (registry) => {
          const controller = new ServiceController({
            kubeConfig,
            poolNamespace: options.poolNamespace,
            loadBalancerClass: options.loadBalancerClass,
            logger,
            registry,
          });
          await controller.start();
          return { daemon: controller, fields: { poolNamespace: options.poolNamespace, loadBalancerClass: options.loadBalancerClass ?? null } };
        },
      });
    });
}
