// Layer 2 mode end to end: three speakers (driver.ts: liveness + L2Announcer over a static
// cluster state) and a client on one bridge in network namespaces (needs root and the native
// addon). Behaviour checked from the outside: who answers arping/ndisc6, what is on `lo`,
// whether the client's pings keep being answered when the owner stops, crashes or loses its link.
import { expect } from 'chai';
import { availability } from '../../../src/native/index.ts';
import { L2Cluster, type DriverMessage } from './cluster.ts';
import type { ClusterL2StateJson } from './driver.ts';

const VIP4 = '192.0.2.100';
const VIP6 = '2001:db8::100';
const SHARED = '192.0.2.101';
const LOCAL = '192.0.2.102';
/** Configured on the client: a foreign host already has them. */
const TAKEN4 = '192.0.2.150';
const TAKEN6 = '2001:db8::150';

const service = (key: string, ips: string[], extra: Partial<ClusterL2StateJson['services'][number]> = {}): ClusterL2StateJson['services'][number] => ({
  key,
  ips,
  pool: 'pool',
  externalTrafficPolicy: 'Cluster',
  nodesWithReadyEndpoints: [],
  ...extra,
});

const STATE: ClusterL2StateJson = {
  advertisements: [{ name: 'l2', bindToInterface: 'lo' }],
  pools: [{ name: 'pool' }],
  nodes: ['node1', 'node2', 'node3'].map((name) => ({ name, ready: true, labels: { 'kubernetes.io/hostname': name } })),
  services: [
    service('default/web', [VIP4, VIP6]),
    service('default/dns-tcp', [SHARED]),
    service('default/dns-udp', [SHARED]),
    service('default/local', [LOCAL], { externalTrafficPolicy: 'Local', nodesWithReadyEndpoints: ['node3'] }),
    service('default/taken', [TAKEN4, TAKEN6]),
  ],
};

describe('speaker L2 mode (e2e, network namespaces)', function () {
  this.timeout(120_000);
  let cluster: L2Cluster;

  before(async function () {
    this.timeout(180_000);
    const ready = availability({ rawFrames: true });
    if (!ready.available) throw new Error(ready.reason);
    cluster = await L2Cluster.create({
      state: STATE,
      prepare: async (testbed) => {
        const client = testbed.client?.ns ?? '';
        await testbed.exec(client, ['ip', 'addr', 'add', `${TAKEN4}/32`, 'dev', testbed.iface]);
        await testbed.exec(client, ['ip', 'addr', 'add', `${TAKEN6}/128`, 'dev', testbed.iface, 'nodad']);
      },
    });
  });

  after(async function () {
    await cluster?.destroy();
  });

  const clientMac = async (): Promise<string> => {
    const link = JSON.parse((await cluster.testbed.exec(cluster.client.ns, ['ip', '-j', 'link', 'show', cluster.testbed.iface])).stdout) as Array<{ address: string }>;
    return link[0]?.address ?? '';
  };

  for (const ip of [VIP4, VIP6]) {
    it(`${ip.includes(':') ? 'ndisc6' : 'arping'} from the client for ${ip} is answered by exactly one node: the one holding it`, async () => {
      const owner = await cluster.settledOwner(ip);
      const macs = await cluster.answeringMacs(ip);
      expect(macs).to.have.length.above(0);
      expect([...new Set(macs)]).to.deep.equal([cluster.macs.get(owner)]);
    });
  }

  it('Services sharing an IP are announced together from one node, which names both', async () => {
    const owner = await cluster.settledOwner(SHARED);
    const lastDesired = (name: string): DriverMessage | undefined => cluster.speaker(name).messages.filter((m) => m.event === 'desired').at(-1);
    const announcements = lastDesired(owner)?.announcements as Array<{ ip: string; services: string[] }>;
    expect(announcements.find((a) => a.ip === SHARED)?.services).to.deep.equal(['default/dns-tcp', 'default/dns-udp']);
    expect([...new Set(await cluster.answeringMacs(SHARED))]).to.deep.equal([cluster.macs.get(owner)]);
  });

  it('externalTrafficPolicy Local: only the node with a ready endpoint answers', async () => {
    expect(await cluster.settledOwner(LOCAL)).to.equal('node3');
    expect([...new Set(await cluster.answeringMacs(LOCAL))]).to.deep.equal([cluster.macs.get('node3')]);
  });

  it('bindToInterface lo: the owner has the address on lo, the other nodes do not', async () => {
    for (const ip of [VIP4, VIP6]) {
      const owner = await cluster.settledOwner(ip);
      for (const name of cluster.speakers.keys()) {
        expect(await cluster.loopbackAddresses(name), `${ip} on lo of ${name}`).to.satisfy((addresses: string[]) => addresses.includes(ip) === (name === owner));
      }
    }
  });

  it('an address another host already has: Conflict with its MAC reported, nothing announced, only that host answers', async () => {
    const foreign = await clientMac();
    for (const ip of [TAKEN4, TAKEN6]) {
      const conflicts = await Promise.any(
        [...cluster.speakers.values()].map((speaker) => speaker.next(`conflict for ${ip}`, (m) => m.event === 'conflict' && m.ip === ip)),
      );
      expect(conflicts).to.include({ foreignMac: foreign, interface: cluster.testbed.iface });
      const holders = await cluster.holders(ip);
      expect([...holders.values()].filter((phase) => phase === 'announcing' || phase === 'announced')).to.deep.equal([]);
      for (const speaker of cluster.speakers.values()) {
        expect(speaker.messages.filter((m) => m.event === 'announced' && m.ip === ip)).to.deep.equal([]);
      }
      expect([...new Set(await cluster.answeringMacs(ip, cluster.testbed.router.ns))]).to.deep.equal([foreign]);
    }
  });

  const failover = (ip: string, disrupt: (owner: string) => Promise<void>): ReturnType<L2Cluster['measureFailover']> => cluster.measureFailover(ip, disrupt, 10);

  for (const ip of [VIP4, VIP6]) {
    it(`SIGTERM on the owner of ${ip}: planned move, no ping lost, the old owner stops once it sees the successor's announcement`, async () => {
      let from = 0;
      const result = await failover(ip, async (owner) => {
        from = cluster.speaker(owner).messages.length;
        await cluster.signal(owner, 'SIGTERM');
      });
      expect(result.successor).to.not.equal(result.owner);
      expect(result.lost, `lost of ${result.sent}`).to.deep.equal([]);
      const old = cluster.speaker(result.owner).messages.slice(from);
      expect(old.find((m) => m.event === 'takenOver' && m.ip === ip)).to.include({ byMac: cluster.macs.get(result.successor) });
      expect(old.at(-1)?.event).to.equal('exited');
      expect(await cluster.loopbackAddresses(result.owner)).to.not.include(ip);
      expect(await cluster.loopbackAddresses(result.successor)).to.include(ip);
      await cluster.start(result.owner);
    });
  }

  it('SIGKILL on the owner: another node takes over and the client\'s pings are answered again', async () => {
    const result = await failover(VIP4, (owner) => cluster.signal(owner, 'SIGKILL'));
    expect(result.successor).to.not.equal(result.owner);
    expect([...new Set(await cluster.answeringMacs(VIP4))]).to.deep.equal([cluster.macs.get(result.successor)]);
    await cluster.start(result.owner);
  });

  it('the owner loses its link: another node takes over; when the link is back, one node answers again', async () => {
    let cut: string | undefined;
    try {
      const result = await failover(VIP6, async (owner) => {
        cut = owner;
        await cluster.setLink(owner, false);
      });
      expect(result.successor).to.not.equal(result.owner);
    } finally {
      if (cut) await cluster.setLink(cut, true);
    }
    const owner = await cluster.settledOwner(VIP6);
    expect([...new Set(await cluster.answeringMacs(VIP6))]).to.deep.equal([cluster.macs.get(owner)]);
  });
});
