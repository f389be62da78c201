import { expect } from 'chai';
import { createLogger } from '../../../../src/common/log.ts';
import { BgpAnnouncer, bfdProblem, bfdSpecOf, peerConfigOf } from '../../../../src/speaker/bgp/announcer.ts';
import type { BfdProfileView, BgpPeerView, DesiredBgpState } from '../../../../src/speaker/bgp/desired.ts';

// Only configurations that never open a socket: refused ones, and one waiting for its sourceAddress.
const peer = (name: string, extra: Partial<BgpPeerView>): BgpPeerView => ({ name, createdAt: '2026-01-01T00:00:00Z', myASN: 64512, peerASN: 64500, peerAddress: '192.0.2.1', ...extra });
const desired = (...peers: BgpPeerView[]): DesiredBgpState => ({ sessions: peers.map((p) => ({ peer: p.name, config: p, prefixes: new Map() })), boundAddresses: new Map(), refusedPeers: [], problems: [] });

describe('speaker/bgp: BgpAnnouncer configuration errors (no network)', () => {
  let announcer: BgpAnnouncer;
  beforeEach(() => {
    announcer = new BgpAnnouncer({ nodeName: 'node1', nodeAddresses: ['192.0.2.11'], log: createLogger('test', 'silent'), addressCheckMs: 50 });
  });
  afterEach(async () => {
    await announcer.stop();
  });

  it('a peer the speaker cannot serve is reported in its status with the field and value, and nothing else is touched', async () => {
    await announcer.apply(desired(peer('in-vrf', { vrf: 'red' }), peer('no-asn', { peerASN: undefined }), peer('bad-id', { routerID: '0.0.0.0' }), peer('waiting', { sourceAddress: '198.51.100.77' })));
    const byPeer = Object.fromEntries(announcer.status().map((s) => [s.peer, s]));
    expect(byPeer['in-vrf']).to.include({ node: 'node1', state: 'Idle', prefixesSent: 0 });
    expect(byPeer['in-vrf']?.lastError).to.contain('spec.vrf "red"');
    expect(byPeer['no-asn']?.lastError).to.equal('BGPPeer no-asn: neither spec.peerASN nor spec.dynamicASN is set');
    expect(byPeer['bad-id']?.lastError).to.contain('routerId "0.0.0.0"');
    expect(byPeer['waiting']?.lastError).to.equal('sourceAddress 198.51.100.77 is not on node node1');
  });

  it('without a routerID and without an IPv4 node address, says so', async () => {
    const v6only = new BgpAnnouncer({ nodeName: 'node6', nodeAddresses: ['2001:db8::6'], log: createLogger('test', 'silent') });
    await v6only.apply(desired(peer('tor', { sourceAddress: '198.51.100.77' })));
    expect(v6only.status()[0]?.lastError).to.equal('BGPPeer tor: no spec.routerID and node node6 has no IPv4 address to use as one');
    await v6only.stop();
  });

  it('a peer that leaves the desired state leaves the status', async () => {
    await announcer.apply(desired(peer('in-vrf', { vrf: 'red' })));
    await announcer.apply(desired());
    expect(announcer.status()).to.deep.equal([]);
  });
});

describe('speaker/bgp: BGPPeer → BGP session configuration', () => {
  const node = { nodeName: 'node1', defaultRouterId: '192.0.2.11', restartTimeSec: 120, restarted: false };

  it('applies keepaliveTime, connectTime, ebgpMultiHop and the timers as the session fields', () => {
    const config = peerConfigOf(peer('tor', { holdTimeSec: 30, keepaliveTimeSec: 5, connectTimeSec: 7, ebgpMultiHop: true }), node);
    expect(config).to.include({ peerAddress: '192.0.2.1', peerAsn: 64500, localAsn: 64512, routerId: '192.0.2.11', holdTimeSec: 30, keepaliveTimeSec: 5, connectRetrySec: 7, ebgpMultiHop: true });
    // single hop unless asked: the session then sends with TTL 1
    expect(peerConfigOf(peer('tor', {}), node)).to.not.have.property('ebgpMultiHop');
    expect(peerConfigOf(peer('tor', { ebgpMultiHop: false }), node)).to.not.have.property('ebgpMultiHop');
  });

  it('dynamicASN internal is our own AS; external is any AS but ours', () => {
    expect(peerConfigOf(peer('ibgp', { peerASN: undefined, dynamicASN: 'internal' }), node).peerAsn).to.equal(64512);
    expect(peerConfigOf(peer('ebgp', { peerASN: undefined, dynamicASN: 'external' }), node).peerAsn).to.equal('external');
  });

  it('still refuses vrf, naming the field and value', () => {
    expect(() => peerConfigOf(peer('in-vrf', { vrf: 'red' }), node)).to.throw('BGPPeer in-vrf: spec.vrf "red" is not supported by the speaker');
  });
});

describe('speaker/bgp: BFD of a peer', () => {
  const profile: BfdProfileView = { receiveIntervalMs: 300, transmitIntervalMs: 50, detectMultiplier: 4, passive: true, minimumTtl: 250, echoMode: false };

  it('runs from the BGP session address with the profile\'s timers; multihop (with its minimum TTL) for ebgpMultiHop peers, as FRR does', () => {
    expect(bfdSpecOf(peer('tor', {}), profile, '192.0.2.11')).to.deep.equal({
      peerAddress: '192.0.2.1',
      localAddress: '192.0.2.11',
      multihop: false,
      passive: true,
      timers: { desiredMinTxUs: 50_000, requiredMinRxUs: 300_000, detectMult: 4 },
    });
    expect(bfdSpecOf(peer('far', { ebgpMultiHop: true }), profile, '192.0.2.11')).to.deep.include({ multihop: true, minimumTtl: 250 });
  });

  it('refuses a missing profile and echo mode with a message naming them; no profile is no problem', () => {
    expect(bfdProblem(peer('tor', {}))).to.equal(undefined);
    expect(bfdProblem(peer('tor', { bfdProfile: 'gone' }))).to.equal('spec.bfdProfile: BFDProfile "gone" not found: BGP runs without BFD');
    expect(bfdProblem(peer('tor', { bfdProfile: 'echo', bfd: { ...profile, echoMode: true } }))).to.contain('BFDProfile echo: echoMode is not supported');
    expect(bfdProblem(peer('tor', { bfdProfile: 'fast', bfd: profile }))).to.equal(undefined);
  });

  it('reports a refused profile on the peer status without opening anything', async () => {
    const announcer = new BgpAnnouncer({ nodeName: 'node1', nodeAddresses: ['192.0.2.11'], log: createLogger('test', 'silent'), addressCheckMs: 50 });
    try {
      await announcer.apply(desired(peer('waiting', { sourceAddress: '198.51.100.77', bfdProfile: 'gone' })));
      expect(announcer.status()[0]?.bfd).to.deep.equal({ profile: 'gone', state: 'Refused', error: 'spec.bfdProfile: BFDProfile "gone" not found: BGP runs without BFD' });
    } finally {
      await announcer.stop();
    }
  });
});
