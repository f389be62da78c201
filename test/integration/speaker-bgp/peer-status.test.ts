/**
 * BGPPeer status writers of several speakers against the local API server, as the speaker's
 * account the operator renders (its RBAC decides): each node's entry survives the others'
 * writes, conflicts appear on both peers, nothing is written twice.
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BGPPeerStatus } from '../../../src/api/index.ts';
import { createLogger } from '../../../src/common/log.ts';
import { KubeHttpError, KubeRest } from '../../../src/kube/rest.ts';
import type { PeerSessionStatus } from '../../../src/speaker/bgp/announcer.ts';
import { clusterPeerConflicts, type BgpPeerView } from '../../../src/speaker/bgp/desired.ts';
import { BgpPeerStatusWriter } from '../../../src/speaker/bgp/peer-status.ts';
import { renderedAccountsYaml } from '../../support/accounts.ts';
import { REPO_ROOT, loadKubeConfig, withLocalApiServer } from '../../support/apiserver.ts';

const crdFiles = readdirSync(join(REPO_ROOT, 'crds')).map((file) => join(REPO_ROOT, 'crds', file));
const NS = 'anchorlb-system';
const PEERS = `/apis/anchorlb.io/v1beta1/namespaces/${NS}/bgppeers`;

function session(peer: string, node: string, state: PeerSessionStatus['state'], extra: Partial<PeerSessionStatus> = {}): PeerSessionStatus {
  return { peer, node, state, since: '2026-11-25T08:00:00.000Z', prefixesSent: 0, prefixesReceived: 0, ...extra };
}

describe('BGPPeer status writers (several speakers, local API server)', function () {
  this.timeout(30_000);
  const cluster = withLocalApiServer({ crdFiles });
  let rest: KubeRest;
  /** The speaker's own account, with the RBAC the operator renders for it. */
  let speaker: KubeRest;
  const writers = new Map<string, BgpPeerStatusWriter>();
  const status = async (peer: string): Promise<BGPPeerStatus | undefined> => (await rest.getJson<{ status?: BGPPeerStatus }>(`${PEERS}/${peer}`)).status;
  const resourceVersion = async (peer: string): Promise<string | undefined> => (await rest.getJson<{ metadata?: { resourceVersion?: string } }>(`${PEERS}/${peer}`)).metadata?.resourceVersion;

  before(async () => {
    rest = new KubeRest(cluster.kubeConfig);
    await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    for (const name of ['tor', 'tor-copy']) {
      await rest.create(PEERS, { apiVersion: 'anchorlb.io/v1beta1', kind: 'BGPPeer', metadata: { name }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '192.0.2.254' } });
    }
    const applied = await cluster.kubectl(['apply', '-f', '-'], { stdin: await renderedAccountsYaml(NS) });
    expect(applied.code, applied.stderr).to.equal(0);
    speaker = new KubeRest(loadKubeConfig(await cluster.server.createServiceAccountKubeconfig(NS, 'anchorlb-speaker')));
    for (const node of ['node1', 'node2', 'node3']) writers.set(node, new BgpPeerStatusWriter({ rest: speaker, namespace: NS, nodeName: node, log: createLogger('peer-status', 'silent') }));
  });

  it('three speakers writing at the same time: every node keeps its own entry, the counters add up', async () => {
    await Promise.all(
      ['node1', 'node2', 'node3'].map((node, i) =>
        writers.get(node)!.write({ peers: ['tor', 'tor-copy'], sessions: [session('tor', node, i === 2 ? 'Active' : 'Established', { prefixesSent: 2, ...(i === 2 ? { lastError: 'connect ECONNREFUSED' } : {}) })], conflicts: [] }),
      ),
    );
    const written = await status('tor');
    expect(written?.nodes?.map((n) => [n.node, n.state, n.prefixesSent])).to.deep.equal([
      ['node1', 'Established', 2],
      ['node2', 'Established', 2],
      ['node3', 'Active', 2],
    ]);
    expect(written?.nodes?.[2]?.lastError).to.equal('connect ECONNREFUSED');
    expect(written).to.include({ selectedNodes: 3, establishedNodes: 2 });
    expect(written?.conditions?.find((c) => c.type === 'Conflict')).to.include({ status: 'False', reason: 'NoConflict' });
  });

  it('nothing changed: no write (the resourceVersion stays)', async () => {
    const before = await resourceVersion('tor');
    await writers.get('node1')!.write({ peers: ['tor', 'tor-copy'], sessions: [session('tor', 'node1', 'Established', { prefixesSent: 2 })], conflicts: [] });
    expect(await resourceVersion('tor')).to.equal(before);
  });

  it('a node that no longer serves a peer removes only its own entry', async () => {
    await writers.get('node2')!.write({ peers: ['tor', 'tor-copy'], sessions: [], conflicts: [] });
    expect((await status('tor'))?.nodes?.map((n) => n.node)).to.deep.equal(['node1', 'node3']);
  });

  it('two peers clashing on a node: both carry a Conflict condition naming the other; it clears when the clash goes', async () => {
    const peers: BgpPeerView[] = [
      { name: 'tor', createdAt: '2026-01-01T00:00:00Z', myASN: 64512, peerASN: 64500, peerAddress: '192.0.2.254' },
      { name: 'tor-copy', createdAt: '2026-02-01T00:00:00Z', myASN: 64512, peerASN: 64500, peerAddress: '192.0.2.254' },
    ];
    const conflicts = clusterPeerConflicts(peers, [{ name: 'node1' }]);
    await writers.get('node1')!.write({ peers: ['tor', 'tor-copy'], sessions: [session('tor', 'node1', 'Established', { prefixesSent: 2 })], conflicts });
    const refused = (await status('tor-copy'))?.conditions?.find((c) => c.type === 'Conflict');
    const kept = (await status('tor'))?.conditions?.find((c) => c.type === 'Conflict');
    expect(refused).to.include({ status: 'True', reason: 'Refused' });
    expect(refused?.message).to.contain('BGPPeer tor already does');
    expect(kept).to.include({ status: 'True', reason: 'OlderPeerKept' });
    expect(kept?.message).to.contain('BGPPeer tor-copy');
    await writers.get('node1')!.write({ peers: ['tor', 'tor-copy'], sessions: [session('tor', 'node1', 'Established', { prefixesSent: 2 })], conflicts: [] });
    expect((await status('tor-copy'))?.conditions?.find((c) => c.type === 'Conflict')).to.include({ status: 'False' });
  });

  it('a deleted peer is skipped without an error, is not recreated, and the peers after it are still written', async () => {
    await rest.delete(`${PEERS}/tor-copy`);
    await writers.get('node3')!.write({ peers: ['tor-copy', 'tor'], sessions: [session('tor-copy', 'node3', 'Idle'), session('tor', 'node3', 'Established', { prefixesSent: 5 })], conflicts: [] });
    expect((await status('tor'))?.nodes?.find((n) => n.node === 'node3')).to.include({ state: 'Established', prefixesSent: 5 });
    const gone = await rest.getJson(`${PEERS}/tor-copy`).then(
      () => 'still there',
      (error: unknown) => (error instanceof KubeHttpError ? error.statusCode : error),
    );
    expect(gone).to.equal(404);
  });
});
