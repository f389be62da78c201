import type { Command } from 'commander';
import type { V1Node, V1Secret } from '@kubernetes/client-node';
import { isParseError } from '../api/net.ts';
import { parseDuration } from '../api/duration.ts';
import { createLogger } from '../common/log.ts';
import { loadKubeConnection, type KubeConnection } from '../kube/connection.ts';
import { KubeRest } from '../kube/rest.ts';
import { NodeSpeaker } from '../speaker/node-speaker.ts';
import { RawAccessError } from '../speaker/l2/announcer.ts';
import { runDaemon } from './daemon.ts';
import { parsePort, UsageError } from './options.ts';

interface SpeakerFlags {
  kubeconfig?: string;
  nodeName?: string;
  namespace: string;
  livenessSecret: string;
  livenessPort: string;
  heartbeatInterval: string;
  missedHeartbeats: string;
  metricsPort: string;
  metricsHost: string;
  modes: string;
  logLevel?: string;
  loadBalancerClass?: string;
  interfaces?: string;
}

/** A bad flag: one line naming the flag and value, exit 2 (src/cli/main.ts). */
function usage(message: string): never {
  throw new UsageError(message);
}

export function registerSpeakerCommand(program: Command): void {
  program
    .command('speaker')
    .description('announce Service addresses from this node by Layer 2 (ARP/NDP) and BGP')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: KUBECONFIG, ~/.kube/config, then in-cluster)')
    .option('--node-name <name>', 'this node (default: NODE_NAME)', process.env.NODE_NAME)
    .option('--namespace <namespace>', 'namespace of the anchorlb objects (default: POD_NAMESPACE)', process.env.POD_NAMESPACE ?? 'anchorlb-system')
    .option('--liveness-secret <name>', 'Secret holding the heartbeat HMAC key (data key "key")', 'anchorlb-liveness')
    .option('--liveness-port <port>', 'UDP port for heartbeats', process.env.ANCHORLB_LIVENESS_PORT ?? '7946')
    .option('--heartbeat-interval <duration>', 'heartbeat interval', process.env.ANCHORLB_HEARTBEAT_INTERVAL ?? '100ms')
    .option('--missed-heartbeats <n>', 'heartbeats missed before a node is failed', process.env.ANCHORLB_MISSED_HEARTBEATS ?? '5')
    .option('--metrics-port <port>', 'port for /metrics, /healthz and /readyz (0 = any)', '7473')
    .option('--metrics-host <host>', 'address for the metrics server', '0.0.0.0')
    .option('--modes <modes>', 'comma-separated: l2, bgp', 'l2,bgp')
    .option('--log-level <level>', 'log level', process.env.ANCHORLB_LOG_LEVEL)
    .option('--load-balancer-class <class>', 'announce only Services of this loadBalancerClass (default: only Services without one)')
    .option('--interfaces <names>', 'comma-separated interfaces to announce from when an L2Advertisement names none (default: discovered)')
    .action(async (flags: SpeakerFlags) => {
      const logger = createLogger('speaker', flags.logLevel ?? process.env.ANCHORLB_LOG_LEVEL ?? 'info');
      if (!flags.nodeName) usage('--node-name: not set (nor NODE_NAME)');
      const modes = new Set(flags.modes.split(',').map((mode) => mode.trim()).filter(Boolean));
      for (const mode of modes) if (mode !== 'l2' && mode !== 'bgp') usage(`--modes: "${flags.modes}": unknown mode "${mode}" (l2, bgp)`);
      const intervalSeconds = parseDuration(flags.heartbeatInterval);
      if (isParseError(intervalSeconds) || intervalSeconds <= 0) usage(`--heartbeat-interval: "${flags.heartbeatInterval}": ${isParseError(intervalSeconds) ? intervalSeconds.error : 'must be positive'}`);
      const missed = Number(flags.missedHeartbeats);
      if (!Number.isInteger(missed) || missed < 2) usage(`--missed-heartbeats: "${flags.missedHeartbeats}": a whole number of at least 2`);
      const port = (flag: string, text: string): number => {
        try {
          return parsePort(text);
        } catch (error) {
          return usage(`${flag}: ${(error as Error).message}`);
        }
      };
      const livenessPort = port('--liveness-port', flags.livenessPort);
      if (livenessPort === 0) usage(`--liveness-port: "${flags.livenessPort}": the other speakers must know it; 0 is not a port they can reach`);
      const metricsPort = port('--metrics-port', flags.metricsPort);

      let kubeConfig: KubeConnection;
      try {
        kubeConfig = await loadKubeConnection(flags.kubeconfig);
      } catch (error) {
        usage(`--kubeconfig: "${flags.kubeconfig ?? '(default)'}": ${error instanceof Error ? error.message : String(error)}`);
      }
      const rest = new KubeRest(kubeConfig);
      const secret = await rest.getJson<V1Secret>(`/api/v1/namespaces/${flags.namespace}/secrets/${flags.livenessSecret}`).catch((error: unknown) => {
        usage(`--liveness-secret: "${flags.namespace}/${flags.livenessSecret}": ${error instanceof Error ? error.message : String(error)}`);
      });
      const encodedKey = secret.data?.key;
      if (!encodedKey) usage(`--liveness-secret: "${flags.namespace}/${flags.livenessSecret}": has no "key"`);
      const node = await rest.getJson<V1Node>(`/api/v1/nodes/${flags.nodeName}`).catch(() => undefined);
      const nodeAddresses = (node?.status?.addresses ?? []).filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a) => a.address);

      const nodeName = flags.nodeName;
      await runDaemon({
        name: 'speaker',
        logger,
        metrics: { host: flags.metricsHost, port: metricsPort },
        start: async (registry) => {
          let nodeSpeaker: NodeSpeaker;
          try {
            nodeSpeaker = new NodeSpeaker({
              kubeConfig,
              nodeName,
              namespace: flags.namespace,
              loadBalancerClass: flags.loadBalancerClass,
              modes: { l2: modes.has('l2'), bgp: modes.has('bgp') },
              logger,
              liveness: { key: Buffer.from(encodedKey, 'base64'), port: livenessPort, intervalMs: intervalSeconds * 1000, missedHeartbeats: missed, bindAddress: '0.0.0.0' },
              ...(flags.interfaces ? { interfaces: flags.interfaces.split(',').map((name) => name.trim()).filter(Boolean) } : {}),
              nodeAddresses,
              registry,
            });
          } catch (error) {
            if (error instanceof RawAccessError) {
              process.stderr.write(`anchorlb speaker: ${error.message}\n`);
              process.exit(1);
            }
            throw error;
          }
          await nodeSpeaker.start();
          return {
            daemon: {
              stop: () => {
                logger.info('leaving: handing over and restarting BGP gracefully');
                return nodeSpeaker.shutdown();
              },
            },
            fields: { node: nodeName, modes: [...modes] },
          };
        },
      });
    });
}
