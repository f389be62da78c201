// Stands in for the speaker process in the L2 e2e tests and bench/failover.ts, one per node
// namespace:  driver.ts CONFIG_JSON
// Liveness agent + L2Announcer; the desired state is desiredL2State over a static cluster
// state (from the config) and the live members, re-applied on every membership event. Writes
// one JSON line per event on stdout ({"event": ...}); stdin command `status` prints the phase
// of every IP held. SIGTERM: planned move (leave, hand over, exit 0).
import { createInterface } from 'node:readline';
import { createLogger } from '../../../src/common/log.ts';
import { L2Announcer } from '../../../src/speaker/l2/announcer.ts';
import type { ClaimTiming } from '../../../src/speaker/l2/claim.ts';
import { desiredL2State, type ClusterL2State } from '../../../src/speaker/l2-desired.ts';
import { LivenessAgent } from '../../../src/speaker/liveness/transport.ts';

/** ClusterL2State as JSON: sets become arrays. */
export type ClusterL2StateJson = Omit<ClusterL2State, 'services'> & {
  services: Array<Omit<ClusterL2State['services'][number], 'nodesWithReadyEndpoints'> & { nodesWithReadyEndpoints: string[] }>;
};

export interface DriverConfig {
  self: string;
  /** The node's address for heartbeats. */
  address: string;
  port: number;
  peers: string[];
  /** Hex HMAC key shared by the speakers. */
  key: string;
  intervalMs: number;
  missedHeartbeats: number;
  interfaces: string[];
  timing?: Partial<ClaimTiming>;
  state: ClusterL2StateJson;
}

const say = (message: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(message)}\n`);

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as DriverConfig;
  const state: ClusterL2State = {
    ...config.state,
    services: config.state.services.map((service) => ({ ...service, nodesWithReadyEndpoints: new Set(service.nodesWithReadyEndpoints) })),
  };
  const logger = createLogger(`driver-${config.self}`, process.env.ANCHORLB_LOG_LEVEL ?? 'warn');
  const announcer = new L2Announcer({ logger, timing: config.timing, interfaces: config.interfaces });
  announcer.onEvent((event) => say({ event: event.type, ...event, at: Date.now() }));
  const agent = new LivenessAgent({
    self: config.self,
    intervalMs: config.intervalMs,
    missedHeartbeats: config.missedHeartbeats,
    key: Buffer.from(config.key, 'hex'),
    bindAddress: config.address,
    port: config.port,
    interfaces: config.interfaces,
    logger,
  });
  agent.setPeers(config.peers.map((address) => ({ address, port: config.port })));
  let started = false;
  const converge = (): void => {
    if (!started) return;
    const desired = desiredL2State(state, config.self, agent.membership.live());
    say({ event: 'desired', live: [...agent.membership.live()].sort(), announcements: [...desired.announcements.values()] });
    announcer.apply(desired.announcements);
  };
  agent.onEvent((event) => {
    say({ event: `member-${event.type}`, node: event.node, at: Date.now() });
    converge();
    // A node coming back may have seen our IPs taken over while it was cut off.
    if (event.type === 'joined') announcer.reannounce();
  });
  await agent.start();
  // Hear the others before claiming anything, or every starting node would claim every IP.
  await new Promise((resolve) => setTimeout(resolve, agent.membership.detectionTimeMs));
  started = true;
  converge();
  say({ event: 'ready', at: Date.now() });

  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'status') say({ event: 'status', phases: Object.fromEntries(announcer.phases()), counters: announcer.counters });
  });
  process.once('SIGTERM', () => {
    void (async () => {
      // Release locally first, then tell the others: a successor's probe must never meet a
      // node that still defends the IP.
      agent.membership.leave();
      converge();
      await agent.leave();
      await announcer.handOver();
      await agent.stop();
      await announcer.stop();
      say({ event: 'exited', at: Date.now() });
      process.exit(0);
    })();
  });
}

main().catch((error: unknown) => {
  say({ event: 'error', message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
