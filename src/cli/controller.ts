import type { Command } from 'commander';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createLogger } from '../common/log.ts';
import { startHealthServer } from '../common/health-server.ts';
import { loadKubeConnection } from '../kube/connection.ts';
import { ServiceController } from '../reconcilers/services.ts';
import { parsePort } from './options.ts';

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
      const registry = new Registry();
      collectDefaultMetrics({ register: registry });
      const controller = new ServiceController({
        kubeConfig: await loadKubeConnection(options.kubeconfig),
        poolNamespace: options.poolNamespace,
        loadBalancerClass: options.loadBalancerClass,
        logger,
        registry,
      });
      let ready = false;
      const health = await startHealthServer({ host: options.metricsHost, port: options.metricsPort, registry, ready: () => ready });
      await controller.start();
      ready = true;
      logger.info({ poolNamespace: options.poolNamespace, loadBalancerClass: options.loadBalancerClass ?? null, metricsPort: health.port }, 'controller running');
      const shutdown = async () => {
        await controller.stop();
        await health.close();
        process.exit(0);
      };
      process.once('SIGTERM', () => void shutdown());
      process.once('SIGINT', () => void shutdown());
    });
}
