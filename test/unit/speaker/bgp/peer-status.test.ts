import { expect } from 'chai';
import type { BGPPeerStatus } from '../../../../src/api/index.ts';
import { conflictCondition, mergePeerStatus, nodeEntry } from '../../../../src/speaker/bgp/peer-status.ts';

const noConflict = conflictCondition('tor', []);
const t0 = new Date('2026-11-25T08:00:00Z');
const t1 = new Date('2026-11-25T09:00:00Z');

describe('speaker/bgp: BGPPeer status merge (pure)', () => {
  it('replaces only this node\'s entry, keeps the others sorted, and counts selected and Established nodes', () => {
    const current: BGPPeerStatus = { nodes: [{ node: 'node3', state: 'Established' }, { node: 'node1', state: 'Active' }] };
    const entry = nodeEntry({ peer: 'tor', node: 'node1', state: 'Established', since: t0.toISOString(), prefixesSent: 4, prefixesReceived: 0 });
    const merged = mergePeerStatus(current, 'node1', entry, noConflict, 3, t0);
    expect(merged.nodes).to.deep.equal([{ node: 'node1', state: 'Established', since: t0.toISOString(), prefixesSent: 4, prefixesReceived: 0 }, { node: 'node3', state: 'Established' }]);
    expect(merged).to.include({ selectedNodes: 2, establishedNodes: 2 });
    expect(mergePeerStatus(merged, 'node1', undefined, noConflict, 3, t0).nodes?.map((n) => n.node)).to.deep.equal(['node3']);
  });

  it('carries this node\'s BFD state into its entry', () => {
    const bfd = { profile: 'fast', state: 'Down' as const, diag: 'ControlDetectionTimeExpired', transmitIntervalMs: 1000, detectionTimeMs: 3000, lastDownTime: t0.toISOString(), lastDownReason: 'ControlDetectionTimeExpired' };
    const entry = nodeEntry({ peer: 'tor', node: 'node1', state: 'Established', since: t0.toISOString(), prefixesSent: 1, prefixesReceived: 0, bfd });
    expect(mergePeerStatus(undefined, 'node1', entry, noConflict, 1, t0).nodes?.[0]?.bfd).to.deep.equal(bfd);
  });

  it('keeps lastTransitionTime while the condition status holds, and moves it when the status flips', () => {
    const first = mergePeerStatus(undefined, 'node1', undefined, noConflict, 1, t0);
    const again = mergePeerStatus(first, 'node1', undefined, noConflict, 2, t1);
    expect(again.conditions?.[0]).to.include({ type: 'Conflict', status: 'False', lastTransitionTime: t0.toISOString(), observedGeneration: 2 });
    const refused = conflictCondition('tor', [{ peer: 'tor', conflictsWith: 'old', message: 'node node1 would open two sessions' }]);
    const flipped = mergePeerStatus(again, 'node1', undefined, refused, 2, t1);
    expect(flipped.conditions).to.have.length(1);
    expect(flipped.conditions?.[0]).to.include({ status: 'True', reason: 'Refused', message: 'node node1 would open two sessions', lastTransitionTime: t1.toISOString() });
  });

  it('names the refused peers on the peer that keeps its sessions, once each', () => {
    const conflicts = [
      { peer: 'b', conflictsWith: 'a', message: 'on node1' },
      { peer: 'c', conflictsWith: 'a', message: 'on node1' },
      { peer: 'b', conflictsWith: 'a', message: 'on node2' },
    ];
    const kept = conflictCondition('a', conflicts);
    expect(kept).to.include({ status: 'True', reason: 'OlderPeerKept' });
    expect(kept.message).to.contain('BGPPeer b, c would open the same session');
    expect(conflictCondition('b', conflicts).message).to.equal('on node1; on node2');
  });
});
