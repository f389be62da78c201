import { expect } from 'chai';
import fc from 'fast-check';
import { desiredL2State, type ClusterL2State, type L2ServiceView } from '../../../src/speaker/l2-desired.ts';

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
});
