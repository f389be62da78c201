// The native addon against real Linux stacks in network namespaces (needs root; the addon is
// built by `make setup-native`). Topology from test/support/testbed.ts: a bridge with router
// (.1), client (.2) and node1 (.11), IPv4 192.0.2.0/24 and IPv6 2001:db8::/64.
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { availability, interfaceInfo, PacketSocket } from '../../../src/speaker/native/index.ts';
import { run, Testbed, waitFor } from '../../support/testbed.ts';

const RESPONDER = fileURLToPath(new URL('./fixtures/responder.ts', import.meta.url));
const MD5_PEER = fileURLToPath(new URL('./fixtures/md5-peer.ts', import.meta.url));
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
    await responderOutput.next('GARP sent', (m) => m.sent === 'garp');
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
    await responderOutput.next('NA sent', (m) => m.sent === 'una');
    const entry = await waitFor('router neighbour entry to move', async () => {
      const line = (await testbed.exec(router, ['ip', '-6', 'neigh', 'show', UNA6, 'dev', testbed.iface])).stdout;
      return line.toLowerCase().includes(nodeMac) ? line : undefined;
    }, 5000);
    expect(entry).to.contain(nodeMac);
  });

  describe('TCP-MD5 between two Node processes', () => {
    let server: ChildProcess;
    let serverOutput: Output;
    const KEY = 'anchorlb-test-key';
    const port = '17900';

    before(async () => {
      const node = testbed.nodes[0]!;
      server = await testbed.spawn(node.ns, tsx(MD5_PEER, 'server', node.ipv4, port, testbed.client!.ipv4, KEY), { pipe: true });
      server.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
      serverOutput = new Output(server);
      await serverOutput.next('MD5 server listening', (m) => m.listening === true);
    });

    async function client(key: string): Promise<Record<string, unknown>> {
      const { stdout } = await testbed.exec(testbed.client!.ns, tsx(MD5_PEER, 'client', testbed.nodes[0]!.ipv4, port, testbed.client!.ipv4, key, '2000'));
      return JSON.parse(stdout.trim()) as Record<string, unknown>;
    }

    it('a client with the key connects and data flows both ways', async () => {
      expect(await client(KEY)).to.deep.equal({ connected: true, received: Buffer.from('hello\n').toString('hex') });
      await serverOutput.next('server received the greeting', (m) => m.accepted === testbed.client!.ipv4);
      expect(serverOutput.messages.filter((m) => 'accepted' in m)[0]?.received).to.equal(Buffer.from('client says hi\n').toString('hex'));
    });

    it('a client without a key, or with another key, never gets a connection', async () => {
      expect(await client('-')).to.deep.equal({ connected: false, code: 'ETIMEDOUT' });
      expect(await client('not-the-key')).to.deep.equal({ connected: false, code: 'ETIMEDOUT' });
      expect(serverOutput.messages.filter((m) => 'accepted' in m)).to.have.length(1);
    });
  });

  describe('TCP-MD5 with FRR (neighbor password)', () => {
    const KEY = 'frr-md5-key';

    it('FRR connects to our keyed listener and sends its OPEN; our keyed client reaches FRR, a keyless one does not', async () => {
      const node = testbed.nodes[0]!;
      // Our side listens on 179 with the key; FRR (active) dials it.
      const server = await testbed.spawn(node.ns, tsx(MD5_PEER, 'server', '0.0.0.0', '179', testbed.router.ipv4, KEY), { pipe: true });
      const serverOutput = new Output(server);
      await serverOutput.next('listener on 179', (m) => m.listening === true);
      await testbed.startFrr(testbed.router.ns, { asn: 64500, neighbors: [{ address: node.ipv4, asn: 64501, password: KEY }] });
      const accepted = await serverOutput.next('FRR to connect with the key', (m) => m.accepted === testbed.router.ipv4, 30_000);
      expect(String(accepted.received).startsWith(BGP_MARKER)).to.equal(true);
      await testbed.kill(server);

      // Now we dial FRR's listener: with the key we are accepted (FRR answers with its OPEN or a NOTIFICATION, both start with the marker).
      const withKey = JSON.parse((await testbed.exec(node.ns, tsx(MD5_PEER, 'client', testbed.router.ipv4, '179', node.ipv4, KEY, '5000'))).stdout.trim()) as Record<string, unknown>;
      expect(withKey.connected).to.equal(true);
      expect(String(withKey.received).startsWith(BGP_MARKER)).to.equal(true);
      const withoutKey = JSON.parse((await testbed.exec(node.ns, tsx(MD5_PEER, 'client', testbed.router.ipv4, '179', node.ipv4, '-', '2000'))).stdout.trim()) as Record<string, unknown>;
      expect(withoutKey).to.deep.equal({ connected: false, code: 'ETIMEDOUT' });
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
        "import { availability, PacketSocket } from './src/speaker/native/index.ts';",
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
      const { setTcpMd5Key, connectTcpWithMd5 } = await import('../../../src/speaker/native/index.ts');
      expect(() => setTcpMd5Key(0, '192.0.2.1', 'x'.repeat(81))).to.throw(RangeError, /key: TCP-MD5 key is 81 bytes; the limit is 80/);
      expect(() => setTcpMd5Key(0, 'router-1', 'k')).to.throw(TypeError, /peerAddress: "router-1"/);
      expect(() => connectTcpWithMd5({ host: '192.0.2.1', port: 179, localAddress: '2001:db8::1', key: 'k' })).to.throw(TypeError, /localAddress/);
    });
  });
});
