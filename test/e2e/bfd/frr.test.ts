/**
 * Our BFD (`anchorlb bfd`, sessions in their worker thread) against FRR's bfdd, in network
 * namespaces. One topology; the cases run in order.
 *
 *   node1: single hop IPv4 and IPv6 (300 ms × 3)
 *   node2: multihop IPv4 and IPv6 (UDP 4784, minimum TTL 254); single hop 100 ms × 3 from a
 *          second address for the main-thread stall case
 *   node3: ours passive (FRR active) IPv4; FRR passive (ours active) IPv6
 */
import { expect } from 'chai';
import { Testbed, waitFor, type FrrBfdPeer, type FrrRouter, type Host } from '../../support/testbed.ts';
import { Announcer } from '../bgp/announcer.ts';

const FAST = '192.0.2.111';

/** Asks an `anchorlb bfd` process for its sessions. */
async function sessions(proc: Announcer): Promise<Array<Record<string, unknown>>> {
  const before = proc.events.length;
  proc.send('status');
  const line = await proc.waitForEvent('status', (e) => e.event === 'status' && proc.events.indexOf(e) >= before, 10_000);
  return line.sessions as Array<Record<string, unknown>>;
}

describe('BFD interop: our sessions ↔ FRR bfdd', function () {
  this.timeout(300_000);
  let tb: Testbed;
  let frr: FrrRouter;
  let n1: Host;
  let n2: Host;
  let n3: Host;
  const procs: Record<string, Announcer> = {};

  const start = async (name: string, host: Host, args: string[]): Promise<Announcer> => {
    const proc = await Announcer.command(tb, host, ['bfd', ...args]);
    procs[name] = proc;
    // Starting node + tsx takes long on a loaded machine: wait before timing anything.
    await proc.waitForEvent('started', (e) => e.event === 'started', 90_000);
    return proc;
  };
  const frrState = async (peer: string, multihop: boolean): Promise<FrrBfdPeer | undefined> => frr.bfdPeer(peer, multihop);
  const frrUp = (peer: string, multihop = false): Promise<FrrBfdPeer> =>
    waitFor(`FRR session with ${peer} Up`, async () => {
      const p = await frrState(peer, multihop);
      return p?.status === 'up' ? p : undefined;
    });
  const oursUp = (proc: Announcer): Promise<unknown> => proc.waitForEvent('our session Up', (e) => e.event === 'state' && e.state === 'Up');

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    tb = await Testbed.create({ nodes: 3 });
    [n1, n2, n3] = tb.nodes as [Host, Host, Host];
    await tb.exec(n2.ns, ['ip', 'addr', 'add', `${FAST}/24`, 'dev', tb.iface]);
    const r = tb.router;
    frr = await tb.startFrr(r.ns, {
      asn: 64512,
      routerId: r.ipv4,
      neighbors: [],
      bfd: {
        peers: [
          { address: n1.ipv4, localAddress: r.ipv4, receiveMs: 300, transmitMs: 300, multiplier: 3 },
          { address: n1.ipv6, localAddress: r.ipv6, receiveMs: 300, transmitMs: 300, multiplier: 3 },
          // The stall case: a second address on node2 (whose own sessions are multihop), fast timers.
          { address: FAST, localAddress: r.ipv4, receiveMs: 100, transmitMs: 100, multiplier: 3 },
          { address: n2.ipv4, localAddress: r.ipv4, multihop: true, receiveMs: 300, transmitMs: 300 },
          { address: n2.ipv6, localAddress: r.ipv6, multihop: true, receiveMs: 300, transmitMs: 300 },
          { address: n3.ipv4, localAddress: r.ipv4 },
          { address: n3.ipv6, localAddress: r.ipv6, passive: true },
        ],
      },
    });
  });

  after(async () => {
    await tb?.destroy();
  });

  it('comes Up single hop over IPv4 and IPv6, with the negotiated timers on both sides', async () => {
    const v4 = await start('n1v4', n1, ['--peer', tb.router.ipv4, '--source', n1.ipv4]);
    const v6 = await start('n1v6', n1, ['--peer', tb.router.ipv6, '--source', n1.ipv6, '--transmit-interval', '200', '--receive-interval', '250', '--detect-multiplier', '4']);
    const up4 = (await oursUp(v4)) as { transmitIntervalMs: number; detectionTimeMs: number; sourcePort: number };
    await oursUp(v6);
    await frrUp(n1.ipv4);
    // FRR polls its own timers down from the 1 s slow rate after Up: wait for the final ones.
    const six = await waitFor('FRR sees our IPv6 timers', async () => {
      const p = await frrState(n1.ipv6, false);
      return p?.status === 'up' && p['remote-transmit-interval'] === 200 ? p : undefined;
    });
    expect(six).to.include({ 'remote-receive-interval': 250, 'remote-detect-multiplier': 4 });
    expect(up4.sourcePort).to.be.within(49152, 65535);
  });

  it('comes Up multihop (UDP 4784) over IPv4 and IPv6', async () => {
    const v4 = await start('n2v4', n2, ['--peer', tb.router.ipv4, '--source', n2.ipv4, '--multihop']);
    const v6 = await start('n2v6', n2, ['--peer', tb.router.ipv6, '--source', n2.ipv6, '--multihop', '--minimum-ttl', '254']);
    await oursUp(v4);
    await oursUp(v6);
    expect((await frrUp(n2.ipv4, true)).multihop).to.equal(true);
    await frrUp(n2.ipv6, true);
  });

  it('passive: ours waits for FRR and comes Up; ours active with FRR passive comes Up', async () => {
    const passive = await start('n3v4', n3, ['--peer', tb.router.ipv4, '--source', n3.ipv4, '--passive']);
    const active = await start('n3v6', n3, ['--peer', tb.router.ipv6, '--source', n3.ipv6]);
    await oursUp(passive);
    await oursUp(active);
    await frrUp(n3.ipv4);
    expect((await frrUp(n3.ipv6))['passive-mode']).to.equal(true);
  });

  it('a profile change is applied by Poll sequence without a flap', async () => {
    const proc = procs.n1v4!;
    const before = await frrUp(n1.ipv4);
    const eventsBefore = proc.events.length;
    proc.send('timers 150 120 5');
    const after = await waitFor('FRR sees the new timers', async () => {
      const p = await frrState(n1.ipv4, false);
      return p?.['remote-transmit-interval'] === 150 && p['remote-receive-interval'] === 120 && p['remote-detect-multiplier'] === 5 ? p : undefined;
    });
    expect(after.status).to.equal('up');
    expect(after.counters?.['session-down']).to.equal(before.counters?.['session-down']);
    expect(proc.events.slice(eventsBefore).filter((e) => e.event === 'state')).to.deep.equal([]);
    const [ours] = await sessions(proc);
    expect(ours).to.include({ state: 'Up', detectMult: 5 });
    // FRR sends every 300 ms (its desired TX, above our 120 ms RX); it says multiplier 3.
    expect(ours!.detectionTimeMs).to.equal(900);
  });

  it('a 1.5 s stall of the main thread does not bring a 100 ms × 3 session down (sessions in the worker); on the main thread it does', async () => {
    const fast = await start('fast', n2, ['--peer', tb.router.ipv4, '--source', FAST, '--transmit-interval', '100', '--receive-interval', '100']);
    await oursUp(fast);
    const before = await waitFor('FRR at 100 ms', async () => {
      const p = await frrState(FAST, false);
      return p?.status === 'up' && p['remote-transmit-interval'] === 100 && p['transmit-interval'] === 100 ? p : undefined;
    });
    fast.send('block 1500');
    await fast.waitForEvent('unblocked', (e) => e.event === 'unblocked');
    const after = await frrState(FAST, false);
    expect(after?.status).to.equal('up');
    expect(after?.counters?.['session-down'], 'FRR saw no Down').to.equal(before.counters?.['session-down']);
    expect(fast.events.filter((e) => e.event === 'state' && e.state !== 'Up')).to.deep.equal([]);

    // The same with the sessions on the main thread: the stall starves transmission and FRR declares us Down.
    await tb.kill(fast.child, 'SIGKILL');
    await waitFor('FRR notices the killed process', async () => (await frrState(FAST, false))?.status === 'down');
    const main = await start('fastMain', n2, ['--peer', tb.router.ipv4, '--source', FAST, '--transmit-interval', '100', '--receive-interval', '100', '--thread', 'main']);
    await oursUp(main);
    const mainBefore = await waitFor('FRR at 100 ms again', async () => {
      const p = await frrState(FAST, false);
      return p?.status === 'up' && p['remote-transmit-interval'] === 100 ? p : undefined;
    });
    main.send('block 1500');
    await main.waitForEvent('unblocked', (e) => e.event === 'unblocked');
    const mainAfter = await frrState(FAST, false);
    expect(mainAfter?.counters?.['session-down'], 'FRR saw a Down').to.be.above(mainBefore.counters?.['session-down'] ?? 0);
    await tb.kill(main.child, 'SIGKILL');
  });

  it('SIGTERM: AdminDown (Diag 7) reaches FRR before the process exits', async () => {
    const proc = procs.n3v6!;
    await frrUp(n3.ipv6);
    await proc.kill('SIGTERM');
    expect(proc.events.some((e) => e.event === 'stopped')).to.equal(true);
    const p = await frrState(n3.ipv6, false);
    expect(p?.status).to.equal('down');
    expect(p?.['remote-diagnostic']).to.equal('administratively down');
  });

  it('node failure (process killed, link down): FRR declares its sessions Down by detection timeout', async () => {
    await tb.kill(procs.n2v4!.child, 'SIGKILL');
    await tb.kill(procs.n2v6!.child, 'SIGKILL');
    await tb.exec(n2.ns, ['ip', 'link', 'set', tb.iface, 'down']);
    for (const address of [n2.ipv4, n2.ipv6]) {
      const p = await waitFor(`FRR declares ${address} Down`, async () => {
        const peer = await frrState(address, true);
        return peer?.status === 'down' ? peer : undefined;
      }, 10_000);
      expect(p.diagnostic).to.equal('control detection time expired');
    }
    // Our single-hop sessions elsewhere are untouched.
    expect((await frrState(n1.ipv4, false))?.status).to.equal('up');
  });

  it('peer failure seen from our side: FRR killed → our sessions Down, Diag ControlDetectionTimeExpired', async () => {
    await tb.kill(frr.bfdd!, 'SIGKILL');
    const down = (await procs.n1v6!.waitForEvent('our session Down', (e) => e.event === 'state' && e.state === 'Down', 10_000)) as unknown as { diag: string; from: string; lastDown?: { diag: string } };
    expect(down).to.include({ from: 'Up', diag: 'ControlDetectionTimeExpired' });
    expect(down.lastDown?.diag).to.equal('ControlDetectionTimeExpired');
  });
});
