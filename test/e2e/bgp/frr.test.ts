/**
 * Our speaker against FRR (bgpd + zebra) in network namespaces. One topology for the whole
 * file; the cases run in order and build on each other (routes announced early are checked,
 * refreshed, killed and restored later).
 *
 *   node1 AS 65001 (2-octet, eBGP), IPv4 + IPv6 on one IPv4 session, graceful restart
 *   node2 AS 4200000001 (4-octet, eBGP), same /32 as node1 → ECMP
 *   node3 AS 64512 (iBGP), local-pref, admin shutdown; then a passive speaker FRR connects to
 *   node4 AS 65004 with a TCP-MD5 password, hold time 3 s
 */
import { expect } from 'chai';
import { Testbed, waitFor, type FrrPath, type FrrRouter } from '../../support/testbed.ts';
import { Announcer } from './announcer.ts';
import { requireRoot } from '../../support/preconditions.ts';

const ROUTER_AS = 64512;
const VIP = '203.0.113.10/32';
const VIP6 = '2001:db8:ffff::10/128';

describe('BGP interop: our speaker → FRR', function () {
  this.timeout(90_000);
  let tb: Testbed;
  let frr: FrrRouter;
  const speakers: Announcer[] = [];
  let node1: Announcer;
  let node2: Announcer;

  const start = async (index: number, args: string[]): Promise<Announcer> => {
    const host = tb.nodes[index];
    if (!host) throw new Error(`no node ${index}`);
    const speaker = await Announcer.start(tb, host, ['--peer', tb.router.ipv4, '--peer-as', String(ROUTER_AS), ...args]);
    speakers.push(speaker);
    return speaker;
  };
  const pathsFrom = async (prefix: string, nexthop: string): Promise<FrrPath[]> =>
    (await frr.paths(prefix)).filter((p) => p.nexthops?.some((n) => n.ip === nexthop) || p.peerId === nexthop);

  before(async function () {
    requireRoot(this);
    tb = await Testbed.create({ nodes: 4 });
    const [n1, n2, n3, n4] = tb.nodes as [typeof tb.router, typeof tb.router, typeof tb.router, typeof tb.router];
    frr = await tb.startFrr(tb.router.ns, {
      asn: ROUTER_AS,
      routerId: tb.router.ipv4,
      // Long enough that freezing bgpd for node4's 3 s hold time (hold-timer case) downs no other session.
      keepalive: 10,
      hold: 30,
      neighbors: [
        { address: n1.ipv4, asn: 65001, families: ['ipv4', 'ipv6'] },
        { address: n2.ipv4, asn: 4200000001, families: ['ipv4', 'ipv6'] },
        { address: n3.ipv4, asn: ROUTER_AS },
        { address: n4.ipv4, asn: 65004, password: 'anchorlb-md5' },
      ],
    });
    // Started together: each pays the process start-up once.
    [node1, node2] = await Promise.all([
      start(0, ['--local-as', '65001', '--prefix', VIP, '--prefix', VIP6, '--community', '65001:100', '--community', 'no-export', '--large-community', '65001:7:8', '--graceful-restart', '--restart-time', '60']),
      start(1, ['--local-as', '4200000001', '--prefix', VIP, '--prefix', VIP6]),
    ]);
    await Promise.all([node1.established(), node2.established()]);
  });

  after(async () => {
    await tb?.destroy();
  });

  it('eBGP, 2-octet AS: FRR has the /32 with our next hop, AS path, communities and large communities', async () => {
    const path = await waitFor('node1 path', async () => (await pathsFrom(VIP, tb.nodes[0]!.ipv4))[0]);
    expect(path?.valid).to.equal(true);
    expect(path?.aspath?.string).to.equal('65001');
    expect(path?.community?.string).to.equal('65001:100 no-export');
    expect(path?.largeCommunity?.string).to.equal('65001:7:8');
    expect(path?.origin).to.equal('IGP');
  });

  it('IPv6 over the same IPv4 session (MP-BGP): FRR has the /128 with our global IPv6 next hop', async () => {
    const paths = await waitFor('IPv6 path', async () => {
      const found = await pathsFrom(VIP6, tb.nodes[0]!.ipv6);
      return found.length > 0 && found;
    });
    expect(paths[0]?.valid).to.equal(true);
    expect(paths[0]?.nexthops?.map((n) => n.ip)).to.include(tb.nodes[0]!.ipv6);
  });

  it('4-octet AS and ECMP: two speakers announcing the same /32 are both multipath, in the RIB and the kernel FIB', async () => {
    await waitFor('two multipath paths', async () => (await frr.paths(VIP)).filter((p) => p.multipath || p.bestpath).length === 2);
    const paths = await frr.paths(VIP);
    expect(paths.map((p) => p.aspath?.string).sort()).to.deep.equal(['4200000001', '65001']);
    await waitFor('FIB multipath (IPv4)', async () => (await frr.fibNexthops('203.0.113.10')) === 2);
    await waitFor('FIB multipath (IPv6)', async () => (await frr.fibNexthops('2001:db8:ffff::10')) === 2);
  });

  it('iBGP: LOCAL_PREF is what we set, and the AS path is empty', async () => {
    const node3 = await start(2, ['--local-as', String(ROUTER_AS), '--prefix', '203.0.113.30/32', '--local-pref', '200']);
    await node3.established();
    const [path] = await waitFor('iBGP path', async () => {
      const found = await frr.paths('203.0.113.30/32');
      return found.length > 0 && found;
    });
    expect(path?.locPrf ?? path?.localpref).to.equal(200);
    expect(path?.aspath?.length).to.equal(0);
  });

  it('administrative shutdown: FRR withdraws the routes at once and records our shutdown communication', async () => {
    const node3 = speakers[2]!;
    node3.send('shutdown maintenance of node3');
    await node3.exited();
    await waitFor('route withdrawn', async () => (await frr.paths('203.0.113.30/32')).length === 0, 5_000);
    const neighbor = await frr.neighbor(tb.nodes[2]!.ipv4);
    expect(JSON.stringify(neighbor)).to.contain('maintenance of node3');
  });

  it('passive: our speaker waits on port 179 and FRR connects to it', async () => {
    const passive = await start(2, ['--local-as', String(ROUTER_AS), '--prefix', '203.0.113.31/32', '--passive']);
    await passive.established();
    await waitFor('route from the passive session', async () => (await frr.paths('203.0.113.31/32')).length === 1);
    passive.send('shutdown');
    await passive.exited();
  });

  it('route refresh: FRR asks (clear soft in), we send the table again, nothing changes', async () => {
    const before = (await node1.status()).stats.routeRefreshReceived;
    await frr.vtysh(`clear bgp ipv4 unicast ${tb.nodes[0]!.ipv4} soft in`);
    await waitFor('route refresh received', async () => (await node1.status()).stats.routeRefreshReceived > before);
    expect(await pathsFrom(VIP, tb.nodes[0]!.ipv4)).to.have.length(1);
  });

  it("as receiving speaker: FRR's routes (re-sent on clear soft out) are decoded and counted, not stored", async () => {
    const node1Address = tb.nodes[0]!.ipv4;
    node2.send('announce 203.0.113.20/32'); // something FRR has for node1
    await waitFor('FRR advertises to node1', async () => ((await frr.summary())[node1Address]?.ipv4?.pfxSnt ?? 0) > 0);
    const before = (await node1.status()).stats;
    await frr.vtysh('clear bgp * soft out');
    await waitFor('routes received again', async () => (await node1.status()).stats.prefixesReceived > before.prefixesReceived);
    const after = (await node1.status()).stats;
    expect(after.treatAsWithdraw).to.equal(0);
    expect(after.lastError).to.equal(undefined);
  });

  it('withdraw and re-announce reach FRR; announcing an unchanged route sends no UPDATE', async () => {
    node2.send(`withdraw ${VIP}`);
    await waitFor('node2 path withdrawn', async () => (await pathsFrom(VIP, tb.nodes[1]!.ipv4)).length === 0);
    node2.send(`announce ${VIP}`);
    await waitFor('node2 path back', async () => (await pathsFrom(VIP, tb.nodes[1]!.ipv4)).length === 1);
    const sent = (await node2.status()).stats.updatesSent;
    node2.send(`announce ${VIP}`);
    expect((await node2.status()).stats.updatesSent).to.equal(sent);
  });

  it('TCP-MD5: a session with the right password comes up; FRR received the route', async () => {
    const node4 = await start(3, ['--local-as', '65004', '--prefix', '203.0.113.40/32', '--password', 'anchorlb-md5', '--hold-time', '3']);
    await node4.established();
    await waitFor('MD5 route', async () => (await frr.paths('203.0.113.40/32')).length === 1);
  });

  it('TCP-MD5 on a passive session: FRR connects with the key to our listener', async () => {
    await speakers.at(-1)!.kill();
    const passive = await start(3, ['--local-as', '65004', '--prefix', '203.0.113.41/32', '--password', 'anchorlb-md5', '--passive', '--hold-time', '3']);
    await passive.established();
    await waitFor('route over the passive MD5 session', async () => (await frr.paths('203.0.113.41/32')).length === 1);
  });

  it('hold timer: when FRR stops talking, our speaker drops the session after the hold time', async () => {
    const node4 = speakers.at(-1)!;
    const bgpd = frr.bgpd.pid!;
    process.kill(bgpd, 'SIGSTOP');
    try {
      const down = await node4.waitForEvent('session down', (e) => e.event === 'down', 15_000);
      expect(down.reason).to.equal('hold timer expired');
    } finally {
      process.kill(bgpd, 'SIGCONT');
    }
    await node4.waitForEvent('re-established', (e) => e.event === 'established' && node4.events.indexOf(e) > node4.events.findIndex((d) => d.event === 'down'), 30_000);
  });

  it('graceful restart: SIGKILL keeps our paths as stale and forwarding; a restart refreshes them, sends End-of-RIB, clears stale', async () => {
    const node1Address = tb.nodes[0]!.ipv4;
    await node1.kill('SIGKILL');
    await waitFor('node1 path stale', async () => (await pathsFrom(VIP, node1Address))[0]?.stale === true, 10_000);
    expect(await frr.fibNexthops('203.0.113.10')).to.equal(2);
    const restarted = await start(0, ['--local-as', '65001', '--prefix', VIP, '--prefix', VIP6, '--community', '65001:100', '--graceful-restart', '--restart-time', '60', '--restarted']);
    await restarted.established();
    await waitFor('stale cleared', async () => {
      const [path] = await pathsFrom(VIP, node1Address);
      return path !== undefined && path.stale !== true && path.community?.string === '65001:100';
    });
    const neighbor = await frr.neighbor(node1Address);
    const gr = JSON.stringify(neighbor.gracefulRestartInfo ?? {});
    expect(gr).to.match(/"endOfRibRecv":\{[^}]*"ipv4Unicast":true/i);
    expect(await frr.fibNexthops('203.0.113.10')).to.equal(2);
  });

  it('graceful restart, planned: the restart command closes without a Cease, so FRR keeps the paths as stale', async () => {
    const node1Address = tb.nodes[0]!.ipv4;
    const current = speakers.at(-1)!;
    current.send('restart');
    await current.exited();
    await waitFor('node1 path stale', async () => (await pathsFrom(VIP, node1Address))[0]?.stale === true, 10_000);
    const back = await start(0, ['--local-as', '65001', '--prefix', VIP, '--graceful-restart', '--restart-time', '60', '--restarted']);
    await back.established();
    await waitFor('stale cleared', async () => (await pathsFrom(VIP, node1Address))[0]?.stale !== true);
  });
});
