// The native addon against real Linux stacks in network namespaces (needs root; the addon is
// built by `make setup-native`). Topology from test/support/testbed.ts: a bridge with router
// (.1), client (.2) and node1 (.11), IPv4 192.0.2.0/24 and IPv6 2001:db8::/64.
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { buildArpRequest, buildNeighborSolicitation } from '../../../src/speaker/l2/frames.ts';
import { availability, interfaceInfo, PacketSocket } from '../../../src/native/index.ts';
import { run, Testbed, waitFor } from '../../support/testbed.ts';

const RESPONDER = fileURLToPath(new URL('./fixtures/responder.ts', import.meta.url));
const MD5_PEER = fileURLToPath(new URL('./fixtures/md5-peer.ts', import.meta.url));
const CAPTURE = fileURLToPath(new URL('./fixtures/capture.ts', import.meta.url));
const SEND_FRAMES = fileURLToPath(new URL('./fixtures/send-frames.ts', import.meta.url));
const LINKS = fileURLToPath(new URL('./fixtures/links.ts', import.meta.url));
/** Addresses answered by our responder only: configured on no interface. */
const VIP4 = '192.0.2.100';
const VIP6 = '2001:db8::100';
const GARP4 = '192.0.2.101';
const UNA6 = '2001:db8::101';
const BGP_MARKER = 'ff'.repeat(16);

/** JSON lines a fixture writes on stdout, collected as they come. */
class Output {
  readonly messages: Array<Record<string, unknown>> = [];
  constructor(child: ChildProcess) {
    if (!child.stdout) throw new Error('child has no stdout pipe');
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        this.messages.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        this.messages.push({ text: line });
      }
    });
  }
  next(what: string, match: (message: Record<string, unknown>) => boolean, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    return waitFor(what, () => this.messages.find(match), timeoutMs, 20);
  }
}

function tsx(script: string, ...args: string[]): string[] {
  return [process.execPath, '--import', 'tsx', script, ...args];
}

describe('native addon (e2e, network namespaces)', function () {
  this.timeout(60_000);
  let testbed: Testbed;
  let responder: ChildProcess;
  let responderOutput: Output;
  let nodeMac: string;

  before(async function () {
    const ready = availability({ rawFrames: true });
    if (!ready.available) throw new Error(ready.reason);
    testbed = await Testbed.create({ nodes: 1, client: true, prefix: `nat${randomBytes(3).toString('hex')}` });
    const node = testbed.nodes[0];
    if (!node) throw new Error('no node');
    responder = await testbed.spawn(node.ns, tsx(RESPONDER, testbed.iface, VIP4, VIP6, GARP4, UNA6), { pipe: true });
    responder.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    responderOutput = new Output(responder);
    const ready2 = await responderOutput.next('responder ready', (m) => m.ready === true || 'error' in m);
    if (ready2.error) throw new Error(String(ready2.error));
    nodeMac = String(ready2.mac);
  });

  after(async function () {
    await testbed?.destroy();
  });

  it('reports the interface MAC the kernel reports', async () => {
    const node = testbed.nodes[0]!;
    const link = JSON.parse((await testbed.exec(node.ns, ['ip', '-j', 'link', 'show', testbed.iface])).stdout) as Array<{ address: string; ifindex: number }>;
    expect(nodeMac).to.equal(link[0]?.address);
  });

  it('answers arping for an IPv4 address configured on no interface', async () => {
    const result = await testbed.exec(testbed.client!.ns, ['arping', '-c', '2', '-w', '5', '-I', testbed.iface, VIP4], { allowFailure: true });
    expect(result.stdout).to.match(new RegExp(`reply from ${VIP4.replaceAll('.', '\\.')} \\[${nodeMac}\\]`, 'i'));
    expect(result.code).to.equal(0);
  });

  it('answers ndisc6 for an IPv6 address configured on no interface', async () => {
    const result = await testbed.exec(testbed.client!.ns, ['ndisc6', '-r', '3', '-w', '1000', VIP6, testbed.iface], { allowFailure: true });
    expect(result.stdout).to.match(new RegExp(`Target link-layer address: ${nodeMac}`, 'i'));
    expect(result.code).to.equal(0);
  });

  it('gratuitous ARP moves a neighbour\'s cache entry to our MAC', async () => {
    const router = testbed.router.ns;
    await testbed.exec(router, ['ip', 'neigh', 'replace', GARP4, 'lladdr', '02:00:00:00:00:99', 'dev', testbed.iface, 'nud', 'stale']);
    responder.stdin?.write(`garp ${GARP4}\n`);
    await responderOutput.next('GARP sent', (m) => m.done === 'garp');
    const entry = await waitFor('router ARP entry to move', async () => {
      const line = (await testbed.exec(router, ['ip', 'neigh', 'show', GARP4, 'dev', testbed.iface])).stdout;
      return line.toLowerCase().includes(nodeMac) ? line : undefined;
    }, 5000);
    expect(entry).to.contain(nodeMac);
  });

  it('an unsolicited Neighbor Advertisement moves a neighbour\'s IPv6 cache entry to our MAC', async () => {
    const router = testbed.router.ns;
    await testbed.exec(router, ['ip', '-6', 'neigh', 'replace', UNA6, 'lladdr', '02:00:00:00:00:98', 'dev', testbed.iface, 'nud', 'stale']);
    responder.stdin?.write(`una ${UNA6}\n`);
    await responderOutput.next('NA sent', (m) => m.done === 'una');
    const entry = await waitFor('router neighbour entry to move', async () => {
      const line = (await testbed.exec(router, ['ip', '-6', 'neigh', 'show', UNA6, 'dev', testbed.iface])).stdout;
      return line.toLowerCase().includes(nodeMac) ? line : undefined;
    }, 5000);
    expect(entry).to.contain(nodeMac);
  });

  it('joins and leaves the solicited-node group on the interface, and switches all-multicast on and off', async () => {
    const node = testbed.nodes[0]!;
    const group = '33:33:ff:00:01:00'; // solicited-node group of VIP6 (2001:db8::100)
    const groups = async (): Promise<string> => (await testbed.exec(node.ns, ['ip', 'maddr', 'show', 'dev', testbed.iface])).stdout;
    // The kernel counts all-multicast users per device (`ip -d link`: allmulti N).
    const allMulticast = async (): Promise<number> =>
      (JSON.parse((await testbed.exec(node.ns, ['ip', '-d', '-j', 'link', 'show', testbed.iface])).stdout) as Array<{ allmulti: number }>)[0]!.allmulti;
    const command = async (line: string): Promise<void> => {
      const before = responderOutput.messages.length;
      responder.stdin?.write(`${line}\n`);
      await responderOutput.next(line, (m) => responderOutput.messages.indexOf(m) >= before && ('done' in m || 'error' in m));
    };
    expect(await groups()).to.contain(group);
    await command(`leave ${VIP6}`);
    expect(await groups()).not.to.contain(group);
    await command(`join ${VIP6}`);
    expect(await groups()).to.contain(group);
    const usersBefore = await allMulticast();
    await command('allmulti on');
    expect(await allMulticast()).to.equal(usersBefore + 1);
    await command('allmulti off');
    expect(await allMulticast()).to.equal(usersBefore);
  });

  /** The same frame with an 802.1Q tag (VLAN 10) after the MAC addresses. */
  const withVlanTag = (frame: Buffer): Buffer => Buffer.concat([frame.subarray(0, 12), Buffer.from('8100000a', 'hex'), frame.subarray(12)]);

  async function sendFrames(ns: string, frames: Buffer[]): Promise<void> {
    await testbed.exec(ns, tsx(SEND_FRAMES, testbed.iface, ...frames.map((frame) => frame.toString('hex'))));
  }

  it('does not answer an ARP request that arrived with a VLAN tag (it belongs to another segment)', async () => {
    const client = testbed.client!;
    const clientMac = (JSON.parse((await testbed.exec(client.ns, ['ip', '-j', 'link', 'show', testbed.iface])).stdout) as Array<{ address: string }>)[0]!.address;
    const tagged = withVlanTag(buildArpRequest({ senderMac: clientMac, senderIp: '192.0.2.77', targetIp: VIP4 }));
    const untagged = buildArpRequest({ senderMac: clientMac, senderIp: '192.0.2.78', targetIp: VIP4 });
    await sendFrames(client.ns, [tagged, untagged]);
    // Frames are handled in order: once the untagged one is answered, the tagged one has been seen or dropped.
    await responderOutput.next('answer to the untagged request', (m) => m.asker === '192.0.2.78');
    expect(responderOutput.messages.filter((m) => m.asker === '192.0.2.77')).to.deep.equal([]);
  });

  it('each filter mode lets through exactly its frames: ARP, NS/NA, never other ICMPv6 or tagged frames', async () => {
    const node = testbed.nodes[0]!;
    const client = testbed.client!;
    const mac = '02:00:00:00:00:77';
    const arp = buildArpRequest({ senderMac: mac, senderIp: '192.0.2.77', targetIp: '192.0.2.200' });
    const ns = buildNeighborSolicitation({ sourceMac: mac, sourceIp: '2001:db8::77', target: '2001:db8::200' });
    const echo = Buffer.from(ns);
    echo[54] = 128; // ICMPv6 echo request
    const arpLast = buildArpRequest({ senderMac: mac, senderIp: '192.0.2.78', targetIp: '192.0.2.200' });
    const nsLast = buildNeighborSolicitation({ sourceMac: mac, sourceIp: '2001:db8::78', target: '2001:db8::200' });
    const sent = [arp, ns, echo, withVlanTag(arp), withVlanTag(ns), arpLast, nsLast];
    const expected = { arp: [arp, arpLast], ndp: [ns, nsLast], 'arp+ndp': [arp, ns, arpLast, nsLast] };
    const captures = await Promise.all(
      (Object.keys(expected) as Array<keyof typeof expected>).map(async (filter) => {
        const child = await testbed.spawn(node.ns, tsx(CAPTURE, testbed.iface, filter), { pipe: true });
        const output = new Output(child);
        await output.next(`capture ${filter} ready`, (m) => m.ready === true);
        return { filter, child, output };
      }),
    );
    await sendFrames(client.ns, sent);
    const sentHex = new Set(sent.map((frame) => frame.toString('hex')));
    for (const { filter, child, output } of captures) {
      const want = expected[filter].map((frame) => frame.toString('hex'));
      await output.next(`${filter} capture to see its last frame`, (m) => m.frame === want[want.length - 1]);
      const seen = output.messages.map((m) => String(m.frame)).filter((frame) => sentHex.has(frame));
      expect(seen, filter).to.deep.equal(want);
      await testbed.kill(child);
    }
  });

  it('keeps receiving after its interface goes down and comes back up', async () => {
    const node = testbed.nodes[0]!;
    const [watched, other] = [`${testbed.prefix}-x0`, `${testbed.prefix}-x1`];
    await testbed.exec(node.ns, ['ip', 'link', 'add', watched, 'type', 'veth', 'peer', 'name', other]);
    await testbed.exec(node.ns, ['ip', 'link', 'set', watched, 'up']);
    await testbed.exec(node.ns, ['ip', 'link', 'set', other, 'up']);
    const capture = await testbed.spawn(node.ns, tsx(CAPTURE, watched, 'arp'), { pipe: true });
    const output = new Output(capture);
    await output.next('capture ready', (m) => m.ready === true);
    const probe = (senderIp: string): Buffer => buildArpRequest({ senderMac: '02:00:00:00:00:66', senderIp, targetIp: '192.0.2.200' });
    const send = (frame: Buffer): Promise<unknown> => testbed.exec(node.ns, tsx(SEND_FRAMES, other, frame.toString('hex')));
    await send(probe('192.0.2.66'));
    await output.next('frame before the flap', (m) => m.frame === probe('192.0.2.66').toString('hex'));
    await testbed.exec(node.ns, ['ip', 'link', 'set', watched, 'down']);
    await testbed.exec(node.ns, ['ip', 'link', 'set', watched, 'up']);
    // The sending side drops frames until the kernel's link watcher has re-activated its queue:
    // send until one arrives.
    await waitFor('a frame after the flap', async () => {
      await send(probe('192.0.2.67'));
      return output.messages.some((m) => m.frame === probe('192.0.2.67').toString('hex'));
    }, 15_000, 200);
    expect(output.messages.filter((m) => 'error' in m)).to.deep.equal([]);
    await testbed.kill(capture);
    await testbed.exec(node.ns, ['ip', 'link', 'del', watched]);
  });

  it('link events: the speaker\'s link watcher reports a link added, re-created and removed without its periodic re-read', async () => {
    const node = testbed.nodes[0]!;
    const [link, peer] = [`${testbed.prefix}-d0`, `${testbed.prefix}-d1`];
    const add = (): Promise<unknown> => testbed.exec(node.ns, ['ip', 'link', 'add', link, 'type', 'veth', 'peer', 'name', peer]);
    const watcher = await testbed.spawn(node.ns, tsx(LINKS), { pipe: true });
    const output = new Output(watcher);
    await output.next('link watcher ready', (m) => m.ready === true);
    type Change = { added: string[]; removed: string[]; recreated: string[] };
    const changes = (): Change[] => output.messages.flatMap((m) => (m.change ? [m.change as Change] : []));
    // The periodic re-read is 10 min away: only an event can report these within the wait.
    await add();
    await output.next(`${link} added`, (m) => (m.change as Change | undefined)?.added.includes(link) === true, 5_000);
    await testbed.exec(node.ns, ['ip', 'link', 'del', link]);
    await add();
    await output.next(`${link} removed or re-created`, () => changes().some((c) => c.removed.includes(link) || c.recreated.includes(link)), 5_000);
    await testbed.exec(node.ns, ['ip', 'link', 'del', link]);
    await output.next(`${link} removed`, () => changes().at(-1)?.removed.includes(link) === true, 5_000);
    expect(output.messages.filter((m) => 'error' in m)).to.deep.equal([]);
    await testbed.kill(watcher);
  });

  /** Starts an md5-peer server in `ns` and waits until it listens. */
  async function startServer(ns: string, args: string[]): Promise<{ child: ChildProcess; output: Output }> {
    const child = await testbed.spawn(ns, tsx(MD5_PEER, 'server', ...args), { pipe: true });
    child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    const output = new Output(child);
    await output.next(`server ${args.join(' ')} listening`, (m) => m.listening === true || 'text' in m);
    return { child, output };
  }

  /** Runs an md5-peer client in `ns` to completion; no connection within `timeout` gives ETIMEDOUT. */
  async function client(ns: string, args: string[]): Promise<Record<string, unknown>> {
    const { stdout } = await testbed.exec(ns, tsx(MD5_PEER, 'client', '--timeout', '1500', ...args));
    return JSON.parse(stdout.trim()) as Record<string, unknown>;
  }

  const hex = (text: string): string => Buffer.from(text).toString('hex');
  const NO_CONNECTION = { connected: false, code: 'ETIMEDOUT' };

  describe('TCP-MD5 between two Node processes', () => {
    const KEY = 'anchorlb-test-key';

    it('IPv4: a client with the key connects and data flows both ways; without or with another key it never connects', async () => {
      const node = testbed.nodes[0]!;
      const peer = testbed.client!;
      const server = await startServer(node.ns, ['--listen', node.ipv4, '--port', '17900', '--peer', peer.ipv4, '--key', KEY]);
      const to = ['--host', node.ipv4, '--port', '17900', '--local', peer.ipv4];
      expect(await client(peer.ns, [...to, '--key', KEY])).to.deep.equal({ connected: true, received: hex('hello\n') });
      const accepted = await server.output.next('server to see the client', (m) => m.accepted === peer.ipv4);
      expect(accepted.received).to.equal(hex('client says hi\n'));
      expect(await client(peer.ns, [...to, '--plain'])).to.deep.equal(NO_CONNECTION);
      expect(await client(peer.ns, [...to, '--key', 'not-the-key'])).to.deep.equal(NO_CONNECTION);
      expect(server.output.messages.filter((m) => 'accepted' in m)).to.have.length(1);
      await testbed.kill(server.child);
    });

    it('a dual-stack listener (::) keyed for an IPv4 peer accepts that peer with the key only', async () => {
      const node = testbed.nodes[0]!;
      const peer = testbed.client!;
      const server = await startServer(node.ns, ['--listen', '::', '--port', '17901', '--peer', peer.ipv4, '--key', KEY]);
      const to = ['--host', node.ipv4, '--port', '17901', '--local', peer.ipv4];
      expect(await client(peer.ns, [...to, '--key', KEY])).to.deep.equal({ connected: true, received: hex('hello\n') });
      expect(await client(peer.ns, [...to, '--plain'])).to.deep.equal(NO_CONNECTION);
      await testbed.kill(server.child);
    });

    it('IPv6: a client with the key connects, one without does not', async () => {
      const node = testbed.nodes[0]!;
      const peer = testbed.client!;
      const server = await startServer(node.ns, ['--listen', node.ipv6, '--port', '17902', '--peer', peer.ipv6, '--key', KEY]);
      const to = ['--host', node.ipv6, '--port', '17902', '--local', peer.ipv6];
      expect(await client(peer.ns, [...to, '--key', KEY])).to.deep.equal({ connected: true, received: hex('hello\n') });
      expect(await client(peer.ns, [...to, '--plain'])).to.deep.equal(NO_CONNECTION);
      await testbed.kill(server.child);
    });
  });

  describe('TTL security (GTSM): minimum TTL on the listener, TTL on the client before its SYN', () => {
    for (const family of ['ipv4', 'ipv6'] as const) {
      it(`${family}: TTL 255 gets through a minimum of 255, TTL 254 does not`, async () => {
        const node = testbed.nodes[0]!;
        const peer = testbed.client!;
        const port = family === 'ipv4' ? '17903' : '17904';
        const server = await startServer(node.ns, ['--listen', node[family], '--port', port, '--min-ttl', '255']);
        const to = ['--host', node[family], '--port', port, '--local', peer[family]];
        expect(await client(peer.ns, [...to, '--ttl', '255'])).to.deep.equal({ connected: true, received: hex('hello\n') });
        expect(await client(peer.ns, [...to, '--ttl', '254'])).to.deep.equal(NO_CONNECTION);
        await testbed.kill(server.child);
      });
    }
  });

  describe('TCP-MD5 with FRR (neighbor password)', () => {
    const KEY = 'frr-md5-key';

    it('FRR connects to our keyed listener and sends its OPEN; our keyed client reaches FRR, a keyless one does not', async () => {
      const node = testbed.nodes[0]!;
      const router = testbed.router;
      // Our side listens on 179 with the key; FRR (active) dials it.
      const server = await startServer(node.ns, ['--listen', '0.0.0.0', '--port', '179', '--peer', router.ipv4, '--key', KEY]);
      await testbed.startFrr(router.ns, { asn: 64500, neighbors: [{ address: node.ipv4, asn: 64501, password: KEY }] });
      const accepted = await server.output.next('FRR to connect with the key', (m) => m.accepted === router.ipv4, 30_000);
      expect(String(accepted.received).startsWith(BGP_MARKER)).to.equal(true);
      await testbed.kill(server.child);

      // Now we dial FRR's listener: with the key we are accepted (FRR sends its OPEN or a
      // NOTIFICATION, both start with the BGP marker); without it the kernel drops our SYNs.
      const to = ['--host', router.ipv4, '--port', '179', '--local', node.ipv4];
      const withKey = await client(node.ns, [...to, '--key', KEY]);
      expect(withKey.connected).to.equal(true);
      expect(String(withKey.received).startsWith(BGP_MARKER)).to.equal(true);
      expect(await client(node.ns, [...to, '--plain'])).to.deep.equal(NO_CONNECTION);
    });
  });

  describe('clear errors', () => {
    it('opening a raw socket on a missing interface names the interface and the cause', () => {
      expect(() => PacketSocket.open({ interface: 'nosuchif0', filter: 'arp', onFrame: () => undefined, onError: () => undefined }))
        .to.throw(/interface nosuchif0: .*no such interface/i)
        .with.property('code', 'ENODEV');
      expect(() => interfaceInfo('nosuchif0')).to.throw(/nosuchif0/).with.property('code', 'ENODEV');
    });

    it('without CAP_NET_RAW: availability() says so and opening fails with EPERM naming the capability', async () => {
      const probe = [
        "import { availability, PacketSocket } from './src/native/index.ts';",
        'const a = availability({ rawFrames: true });',
        "let error; try { PacketSocket.open({ interface: 'lo', filter: 'arp', onFrame() {}, onError() {} }); } catch (e) { error = { code: e.code, message: e.message }; }",
        'console.log(JSON.stringify({ a, error }));',
      ].join('\n');
      const { stdout } = await run(['setpriv', '--inh-caps=-net_raw', '--bounding-set=-net_raw', process.execPath, '--import', 'tsx', '--input-type=module', '-e', probe]);
      const result = JSON.parse(stdout.trim()) as { a: { available: boolean; reason?: string }; error?: { code: string; message: string } };
      expect(result.a).to.deep.equal({ available: false, reason: 'raw frames need CAP_NET_RAW (run as root or grant the capability)' });
      expect(result.error?.code).to.equal('EPERM');
      expect(result.error?.message).to.match(/interface lo: .*needs CAP_NET_RAW/);
    });

    it('a key longer than 80 bytes or a peer that is not an address is refused before any socket call', async () => {
      const { setTcpMd5Key, connectTcpWithMd5 } = await import('../../../src/native/index.ts');
      expect(() => setTcpMd5Key(0, '192.0.2.1', 'x'.repeat(81))).to.throw(RangeError, /key: TCP-MD5 key is 81 bytes; the limit is 80/);
      expect(() => setTcpMd5Key(0, 'router-1', 'k')).to.throw(TypeError, /peerAddress: "router-1"/);
      expect(() => connectTcpWithMd5({ host: '192.0.2.1', port: 179, localAddress: '2001:db8::1', key: 'k' })).to.throw(TypeError, /localAddress/);
    });

    it('socket options refuse out-of-range TTLs, non-sockets and sockets without an fd, naming the value', async () => {
      const { setIpTtl, setIpMinTtl, setTcpMd5Key } = await import('../../../src/native/index.ts');
      expect(() => setIpTtl(3, 0)).to.throw(/TTL 0 is out of range 1\.\.255/).with.property('code', 'EINVAL');
      expect(() => setIpMinTtl(3, 256)).to.throw(/minimum TTL 256 is out of range 0\.\.255/).with.property('code', 'EINVAL');
      expect(() => setIpTtl(-1, 64)).to.throw(/fd -1: not a socket/).with.property('code', 'EBADF');
      const net = await import('node:net');
      expect(() => setTcpMd5Key(new net.Socket(), '192.0.2.1', 'k')).to.throw(/no file descriptor yet/);
    });
  });
});
