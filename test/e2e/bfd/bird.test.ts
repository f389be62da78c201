/**
 * Our BFD (`anchorlb bfd`) against BIRD 2's `protocol bfd`, a second, independent
 * implementation: single hop IPv4 and IPv6, multihop IPv4 (BIRD sends it with TTL 64, so the
 * minimum TTL is lowered; the default 254 discards it, as it should); node failure seen by BIRD.
 */
import { expect } from 'chai';
import { Testbed, waitFor, type BirdRouter, type Host } from '../../support/testbed.ts';
import { Announcer } from '../bgp/announcer.ts';

describe('BFD interop: our sessions ↔ BIRD 2', function () {
  this.timeout(300_000);
  let tb: Testbed;
  let bird: BirdRouter;
  let n1: Host;
  let n2: Host;
  const procs: Announcer[] = [];

  const birdState = (address: string, state: string): Promise<true> =>
    waitFor(`BIRD session with ${address} ${state}`, async () => (await bird.bfdSessions()).get(address) === state || undefined);

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    tb = await Testbed.create({ nodes: 2 });
    [n1, n2] = tb.nodes as [Host, Host];
    const r = tb.router;
    bird = await tb.startBird(r.ns, {
      asn: 64512,
      routerId: r.ipv4,
      neighbors: [],
      bfd: {
        profiles: [{ name: 'default', receiveMs: 200, transmitMs: 200, multiplier: 3 }],
        peers: [
          { address: n1.ipv4, localAddress: r.ipv4 },
          { address: n1.ipv6, localAddress: r.ipv6 },
          { address: n2.ipv4, localAddress: r.ipv4, multihop: true },
        ],
      },
    });
    for (const [host, args] of [
      [n1, ['--peer', r.ipv4, '--source', n1.ipv4]],
      [n1, ['--peer', r.ipv6, '--source', n1.ipv6]],
      // BIRD sends multihop BFD with the system TTL (64), not 255 as FRR does: minimumTtl must allow it.
      [n2, ['--peer', r.ipv4, '--source', n2.ipv4, '--multihop', '--minimum-ttl', '60']],
    ] as Array<[Host, string[]]>) {
      const proc = await Announcer.command(tb, host, ['bfd', ...args, '--transmit-interval', '200', '--receive-interval', '200']);
      procs.push(proc);
      // Starting node + tsx takes long on a loaded machine: wait for each before timing anything.
      await proc.waitForEvent('started', (e) => e.event === 'started', 90_000);
    }
  });

  after(async () => {
    await tb?.destroy();
  });

  it('comes Up single hop over IPv4 and IPv6 and multihop over IPv4', async () => {
    for (const proc of procs) await proc.waitForEvent('our session Up', (e) => e.event === 'state' && e.state === 'Up');
    await birdState(n1.ipv4, 'Up');
    await birdState(n1.ipv6, 'Up');
    await birdState(n2.ipv4, 'Up');
  });

  it('node failure (process killed, link down): BIRD declares the session Down; the others stay Up', async () => {
    await tb.kill(procs[2]!.child, 'SIGKILL');
    await tb.exec(n2.ns, ['ip', 'link', 'set', tb.iface, 'down']);
    await birdState(n2.ipv4, 'Down');
    const sessions = await bird.bfdSessions();
    expect(sessions.get(n1.ipv4)).to.equal('Up');
    expect(sessions.get(n1.ipv6)).to.equal('Up');
  });
});
