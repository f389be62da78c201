import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import fc from 'fast-check';
import { desiredL2State, type ClusterL2State, type L2AdvertisementSpecView, type L2ServiceView } from '../../../src/speaker/l2-desired.ts';
import { parseDuration } from '../../../src/api/duration.ts';
import { DEFAULT_CLAIM_TIMING } from '../../../src/speaker/l2/claim.ts';

const svc = (key: string, ips: string[], extra: Partial<L2ServiceView> = {}): L2ServiceView => ({ key, ips, pool: 'pool-a', externalTrafficPolicy: 'Cluster', nodesWithReadyEndpoints: new Set(), ...extra });
const nodes = ['n1', 'n2', 'n3'].map((name) => ({ name, ready: true, labels: { 'kubernetes.io/hostname': name } }));
const live = new Set(['n1', 'n2', 'n3']);
const state = (extra: Partial<ClusterL2State> = {}): ClusterL2State => ({
  advertisements: [{ name: 'l2' }],
  pools: [{ name: 'pool-a' }, { name: 'pool-b', labels: { l2: 'no' } }],
  services: [svc('default/a', ['192.0.2.10']), svc('default/b', ['192.0.2.11']), svc('default/c', ['2001:db8::c'])],
  nodes,
  ...extra,
});

describe('speaker/l2: desired announcements (pure)', () => {
  it('exactly one node announces each advertised IP', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.oneof(fc.ipV4(), fc.ipV6()), { minLength: 1, maxLength: 30 }), (ips) => {
        const s = state({ services: ips.map((ip, i) => svc(`default/s${i}`, [ip])) });
        const count = new Map<string, number>();
        for (const node of nodes) {
          for (const ip of desiredL2State(s, node.name, live).announcements.keys()) count.set(ip, (count.get(ip) ?? 0) + 1);
        }
        expect([...count.keys()].sort()).to.deep.equal([...ips].sort());
        expect([...count.values()].every((c) => c === 1)).to.equal(true);
      }),
    );
  });

  it('announces Services sharing an IP together, from one node, naming both', () => {
    const s = state({ services: [svc('default/dns-tcp', ['192.0.2.53']), svc('default/dns-udp', ['192.0.2.53'])] });
    const holders = nodes.filter((n) => desiredL2State(s, n.name, live).announcements.has('192.0.2.53'));
    expect(holders).to.have.length(1);
    expect(desiredL2State(s, holders[0]!.name, live).announcements.get('192.0.2.53')!.services).to.deep.equal(['default/dns-tcp', 'default/dns-udp']);
  });

  it('leaves out pools no advertisement selects and Services an advertisement does not select', () => {
    const s = state({
      advertisements: [{ name: 'l2', ipAddressPoolSelectors: [{ matchExpressions: [{ key: 'l2', operator: 'DoesNotExist' }] }], serviceSelectors: [{ matchLabels: { expose: 'l2' } }] }],
      services: [svc('default/a', ['192.0.2.10'], { labels: { expose: 'l2' } }), svc('default/b', ['192.0.2.11']), svc('default/c', ['198.51.100.1'], { pool: 'pool-b', labels: { expose: 'l2' } })],
    });
    const all = nodes.flatMap((n) => [...desiredL2State(s, n.name, live).announcements.keys()]);
    expect(all).to.deep.equal(['192.0.2.10']);
  });

  it('names the IPs a node is selected for but cannot answer for, lacking every interface its advertisements name', () => {
    const withInterfaces = nodes.map((node) => ({ ...node, interfaces: node.name === 'n3' ? ['eth0', 'vlan42'] : ['eth0'] }));
    const s = state({
      nodes: withInterfaces,
      advertisements: [
        { name: 'vlan', interfaces: ['vlan42', 'vlan43'] },
        { name: 'elsewhere', interfaces: ['vlan44'], nodeSelectors: [{ matchLabels: { 'kubernetes.io/hostname': 'n2' } }] },
      ],
    });
    expect([...desiredL2State(s, 'n1', live).noMatchingInterface]).to.deep.equal([
      ['192.0.2.10', ['vlan42', 'vlan43']],
      ['192.0.2.11', ['vlan42', 'vlan43']],
      ['2001:db8::c', ['vlan42', 'vlan43']],
    ]);
    expect(desiredL2State(s, 'n2', live).noMatchingInterface.get('192.0.2.10'), 'only what selects n2').to.deep.equal(['vlan42', 'vlan43', 'vlan44']);
    const n3 = desiredL2State(s, 'n3', live);
    expect(n3.noMatchingInterface.size).to.equal(0);
    expect([...n3.announcements.keys()].sort(), 'the one node with the interface holds them all').to.deep.equal(['192.0.2.10', '192.0.2.11', '2001:db8::c']);
    // The interface appears on n1: it is eligible again and reports nothing.
    const later = state({ nodes: withInterfaces.map((node) => ({ ...node, interfaces: ['eth0', 'vlan42'] })), advertisements: s.advertisements });
    expect(desiredL2State(later, 'n1', live).noMatchingInterface.size).to.equal(0);
  });

  it('moves an IP to another node when its owner dies, and reports the same owner from every node', () => {
    const s = state();
    const owner = desiredL2State(s, 'n1', live).owners.get('192.0.2.10')!;
    for (const n of nodes) expect(desiredL2State(s, n.name, live).owners.get('192.0.2.10')).to.equal(owner);
    const survivors = new Set([...live].filter((n) => n !== owner));
    const next = desiredL2State(s, 'n1', survivors).owners.get('192.0.2.10');
    expect(next).to.not.equal(owner);
    expect(survivors.has(next!)).to.equal(true);
    expect(desiredL2State(s, next!, survivors).announcements.has('192.0.2.10')).to.equal(true);
  });

  it('answers only on the advertisement interfaces and binds the IP where bindToInterface says', () => {
    const s = state({ advertisements: [{ name: 'l2', interfaces: ['eth1'], bindToInterface: 'lo' }], services: [svc('default/a', ['192.0.2.10'])] });
    const owner = desiredL2State(s, 'n1', live).owners.get('192.0.2.10')!;
    expect(desiredL2State(s, owner, live).announcements.get('192.0.2.10')).to.deep.equal({ ip: '192.0.2.10', services: ['default/a'], interfaces: ['eth1'], bindToInterfaces: ['lo'] });
  });

  it('has no owner for an eTP Local Service without ready endpoints', () => {
    const s = state({ services: [svc('default/l', ['192.0.2.20'], { externalTrafficPolicy: 'Local' })] });
    expect(desiredL2State(s, 'n1', live).owners.get('192.0.2.20')).to.equal(undefined);
    const withEndpoint = state({ services: [svc('default/l', ['192.0.2.20'], { externalTrafficPolicy: 'Local', nodesWithReadyEndpoints: new Set(['n3']) })] });
    expect(desiredL2State(withEndpoint, 'n3', live).announcements.has('192.0.2.20')).to.equal(true);
  });

  describe('takeover announcements (spec.failover)', () => {
    const announcementOn = (advertisements: L2AdvertisementSpecView[], ip = '192.0.2.10') => {
      const s = state({ advertisements, services: [svc('default/a', [ip])] });
      const owner = desiredL2State(s, 'n1', live).owners.get(ip)!;
      return desiredL2State(s, owner, live).announcements.get(ip)!;
    };

    it('defaults in the schema (applied by the API server) are the announcer\'s defaults', () => {
      const schema = JSON.parse(readFileSync(new URL('../../../src/schemas/l2advertisement.schema.json', import.meta.url), 'utf8')) as {
        properties: { spec: { properties: { failover: { properties: { gratuitousCount: { default: number }; gratuitousInterval: { default: string } } } } } };
      };
      const failover = schema.properties.spec.properties.failover.properties;
      expect(failover.gratuitousCount.default).to.equal(DEFAULT_CLAIM_TIMING.announceCount);
      expect(parseDuration(failover.gratuitousInterval.default)).to.equal(DEFAULT_CLAIM_TIMING.announceIntervalMs / 1000);
    });

    it('carries none when no advertisement sets them (the announcer keeps its own timing)', () => {
      expect(announcementOn([{ name: 'l2' }, { name: 'other' }])).to.not.have.property('takeover');
    });

    it('carries an advertisement\'s count and interval, a field left out taking the default', () => {
      expect(announcementOn([{ name: 'l2', takeover: { announceCount: 9, announceIntervalMs: 300 } }]).takeover).to.deep.equal({ announceCount: 9, announceIntervalMs: 300 });
      expect(announcementOn([{ name: 'l2', takeover: { announceCount: 2 } }]).takeover).to.deep.equal({ announceCount: 2, announceIntervalMs: DEFAULT_CLAIM_TIMING.announceIntervalMs });
    });

    it('ignores the advertisements that do not select the owner', () => {
      const onlyN9 = { name: 'n9-only', nodeSelectors: [{ matchLabels: { 'kubernetes.io/hostname': 'n9' } }], takeover: { announceCount: 20, announceIntervalMs: 1 } };
      expect(announcementOn([{ name: 'l2', takeover: { announceCount: 3 } }, onlyN9]).takeover).to.deep.equal({ announceCount: 3, announceIntervalMs: DEFAULT_CLAIM_TIMING.announceIntervalMs });
    });

    it('when advertisements disagree: the largest count and the shortest interval, whatever their order', () => {
      const timing = fc.record({ announceCount: fc.integer({ min: 1, max: 20 }), announceIntervalMs: fc.integer({ min: 1, max: 5_000 }) }, { requiredKeys: [] });
      fc.assert(
        fc.property(fc.array(timing, { minLength: 1, maxLength: 5 }), fc.boolean(), (takeovers, withUnset) => {
          const advertisements: L2AdvertisementSpecView[] = takeovers.map((takeover, i) => ({ name: `l2-${i}`, takeover }));
          if (withUnset) advertisements.push({ name: 'unset' });
          const resolved = takeovers.map((takeover) => ({ ...DEFAULT_CLAIM_TIMING, ...takeover }));
          const expected = { announceCount: Math.max(...resolved.map((t) => t.announceCount)), announceIntervalMs: Math.min(...resolved.map((t) => t.announceIntervalMs)) };
          expect(announcementOn(advertisements).takeover).to.deep.equal(expected);
          expect(announcementOn([...advertisements].reverse()).takeover).to.deep.equal(expected);
        }),
      );
    });
  });

  describe('failbackDelay', () => {
    const ip = '192.0.2.10';
    const withDelay = (delays: Array<number | undefined>) =>
      state({ advertisements: delays.map((failbackDelayMs, i) => ({ name: `l2-${i}`, ...(failbackDelayMs === undefined ? {} : { failbackDelayMs }) })), services: [svc('default/a', [ip])] });
    const winner = desiredL2State(state({ services: [svc('default/a', [ip])] }), 'n1', live).owners.get(ip)!;
    const joinedAt = new Map(nodes.map((n) => [n.name, n.name === winner ? 60_000 : 0]));

    it('a restarted node answers for nothing the others hold until the longest delay of the IP\'s advertisements has passed, and says when to look again', () => {
      const s = withDelay([5_000, 30_000, undefined]);
      const during = desiredL2State(s, winner, live, { now: 80_000, joinedAt });
      expect(during.announcements.has(ip)).to.equal(false);
      expect(during.owners.get(ip)).to.not.equal(winner);
      expect(during.reconsiderAt).to.equal(90_000);
      const holder = during.owners.get(ip)!;
      expect(desiredL2State(s, holder, live, { now: 80_000, joinedAt }).announcements.has(ip)).to.equal(true);
      const after = desiredL2State(s, winner, live, { now: 90_000, joinedAt });
      expect(after.announcements.has(ip)).to.equal(true);
      expect(after).to.not.have.property('reconsiderAt');
    });

    it('without a delay, or without join times, elects as before', () => {
      for (const [s, clock] of [[withDelay([undefined]), { now: 61_000, joinedAt }], [withDelay([30_000]), undefined]] as const) {
        const desired = desiredL2State(s, winner, live, clock);
        expect(desired.owners.get(ip)).to.equal(winner);
        expect(desired).to.not.have.property('reconsiderAt');
      }
    });
  });
});
