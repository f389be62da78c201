/**
 * Stand-in for the speaker process in e2e tests and the convergence bench: one BgpAnnouncer
 * for one node, fed a static cluster state as JSON lines on stdin. Prints JSON events.
 *
 *   node --import tsx driver.ts --node NAME --addresses A,B [--gs-delay-ms N]
 *   stdin:  {"apply": {"state": ClusterStateJson, "node": {...}, "addresses"?: [...]}} | {"status": true} | {"stop": true}
 *   SIGTERM: graceful stop (no Cease), then exit.
 */
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { createLogger } from '../../../src/common/log.ts';
import { BgpAnnouncer } from '../../../src/speaker/bgp/announcer.ts';
import { desiredBgpState, type ClusterBgpState, type LocalNodeView, type ServiceView } from '../../../src/speaker/bgp/desired.ts';

/** ClusterBgpState as JSON: sets and maps as arrays and objects. */
export interface ClusterStateJson extends Omit<ClusterBgpState, 'services' | 'communityAliases'> {
  services: Array<Omit<ServiceView, 'nodesWithReadyEndpoints'> & { nodesWithReadyEndpoints: string[] }>;
  communityAliases?: Record<string, string>;
}

export interface DriverCommand {
  apply?: { state: ClusterStateJson; node: LocalNodeView; addresses?: string[] };
  status?: true;
  stop?: true;
}

const { values } = parseArgs({
  options: {
    node: { type: 'string' },
    addresses: { type: 'string', default: '' },
    'gs-delay-ms': { type: 'string', default: '5000' },
  },
});
const nodeName = values.node;
if (nodeName === undefined) throw new Error('--node is required');

const print = (event: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(event)}\n`);
};

const announcer = new BgpAnnouncer({
  nodeName,
  nodeAddresses: values.addresses.split(',').filter(Boolean),
  log: createLogger(`driver-${nodeName}`, 'warn'),
  gracefulShutdownDelayMs: Number(values['gs-delay-ms']),
  addressCheckMs: 200,
});
const statusEvent = (): Record<string, unknown> => {
  const peers = announcer.status();
  return { event: 'status', peers, announced: Object.fromEntries(peers.map((p) => [p.peer, [...announcer.announcedPrefixes(p.peer)].sort()])) };
};
announcer.on('status', () => print(statusEvent()));

function toClusterState(json: ClusterStateJson): ClusterBgpState {
  return {
    ...json,
    services: json.services.map((s) => ({ ...s, nodesWithReadyEndpoints: new Set(s.nodesWithReadyEndpoints) })),
    communityAliases: new Map(Object.entries(json.communityAliases ?? {})),
  };
}

async function handle(command: DriverCommand): Promise<void> {
  if (command.apply) {
    if (command.apply.addresses) announcer.setNodeAddresses(command.apply.addresses);
    const desired = desiredBgpState(toClusterState(command.apply.state), command.apply.node);
    await announcer.apply(desired);
    print({ event: 'applied', refusedPeers: desired.refusedPeers, problems: desired.problems });
  }
  if (command.status) print(statusEvent());
  if (command.stop) {
    await announcer.stop();
    process.exit(0);
  }
}

let chain = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  chain = chain.then(() => handle(JSON.parse(line) as DriverCommand)).catch((error: unknown) => print({ event: 'error', message: String(error) }));
});
process.once('SIGTERM', () => {
  void announcer.gracefulStop().then(() => process.exit(0));
});
print({ event: 'ready' });
