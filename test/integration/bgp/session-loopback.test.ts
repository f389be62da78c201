import { expect } from 'chai';
import { createLogger } from '../../../src/common/log.ts';
import net from 'node:net';
import { MessageFramer, decodeMessage, encodeMessage, endOfRibFamily, formatPrefix, parsePrefix, type BgpMessage, type CodecOptions, type UpdateMessage } from '../../../src/bgp/codec/index.ts';
import { BgpSpeaker } from '../../../src/bgp/speaker.ts';
import type { Route } from '../../../src/bgp/adj-rib-out.ts';
import { waitFor } from '../../support/testbed.ts';

const log = createLogger('bgp-test', 'silent');

function hostRoutes(count: number, family: 4 | 6, communities?: number[]): Route[] {
  return Array.from({ length: count }, (_, i) => ({
    prefix: parsePrefix(family === 4 ? `198.51.${100 + (i >> 8)}.${i & 255}/32` : `2001:db8:ff::${i.toString(16)}/128`),
    ...(communities ? { attributes: { communities } } : {}),
  }));
}

/** Two of our speakers over loopback: "router" listens (passive peer), "node" connects from 127.0.0.2. */
describe('BGP session over loopback (our speaker against itself)', function () {
  this.timeout(30_000);
  let router: BgpSpeaker;
  let node: BgpSpeaker;

  beforeEach(async () => {
    router = new BgpSpeaker({ routerId: '192.0.2.1', localAsn: 64512, listen: { port: 0, address: '127.0.0.1' }, log });
    await router.start();
    await router.addPeer({ peerAddress: '127.0.0.2', peerAsn: 65001, passive: true, holdTimeSec: 9 });
    node = new BgpSpeaker({ routerId: '192.0.2.11', localAsn: 65001, log });
  });
  afterEach(async () => {
    await node.stop();
    await router.stop();
  });

  async function connectNode(routes: Route[] = [], extra: { password?: string; holdTimeSec?: number } = {}): Promise<void> {
    await node.addPeer({ peerAddress: '127.0.0.1', peerAsn: 64512, port: router.listenPort ?? 0, sourceAddress: '127.0.0.2', nextHop6: '2001:db8::11', gracefulRestart: { restartTimeSec: 120, restarted: false }, ...extra }, routes);
    await waitFor('session established', () => node.status()[0]?.state === 'Established' && router.status()[0]?.state === 'Established', 10_000, 20);
  }
  const received = () => router.status()[0]?.stats;

  it('announces a table in few UPDATEs, then End-of-RIB per family, and the peer counts every prefix', async () => {
    await connectNode([...hostRoutes(1000, 4, [65001 * 65536 + 1]), ...hostRoutes(1000, 6)]);
    await waitFor('2 End-of-RIB', () => received()?.endOfRibReceived === 2, 10_000, 20);
    expect(received()?.prefixesReceived).to.equal(2000);
    expect(node.status()[0]?.families).to.deep.equal(['ipv4', 'ipv6']);
    // 1000 IPv4 /32 take 5 octets each: a handful of 4096-octet UPDATEs, not one per prefix
    expect(node.status()[0]?.stats.updatesSent).to.be.below(20);
  });

  it('sends nothing for an unchanged table, and withdraws what is removed', async () => {
    const routes = hostRoutes(10, 4);
    await connectNode(routes);
    await waitFor('End-of-RIB', () => received()?.endOfRibReceived === 2, 10_000, 20);
    const sent = node.status()[0]?.stats.updatesSent;
    node.setRoutes(routes);
    node.setRoutes(routes.slice(0, 7));
    await waitFor('3 withdrawals', () => received()?.withdrawalsReceived === 3, 10_000, 20);
    expect(node.status()[0]?.stats.updatesSent).to.equal((sent ?? 0) + 1);
    expect(node.status()[0]?.advertised).to.equal(7);
  });

  it('an administrative stop tells the peer why (RFC 8203) and the peer goes down', async () => {
    await connectNode();
    await node.stop({ communication: 'maintenance window' });
    await waitFor('router sees the session down', () => router.status()[0]?.state !== 'Established', 10_000, 20);
    expect(received()?.lastNotificationReceived).to.equal('Cease / Administrative Shutdown: "maintenance window"');
    expect(received()?.notificationsReceived).to.equal(1);
  });

  it('updateRoutes adds and withdraws without resending the rest; removePeer shuts the session down', async () => {
    await connectNode(hostRoutes(5, 4));
    await waitFor('End-of-RIB', () => received()?.endOfRibReceived === 2, 10_000, 20);
    node.updateRoutes(hostRoutes(1, 6), [hostRoutes(5, 4)[0]!.prefix]);
    await waitFor('1 withdrawal and 1 more prefix', () => received()?.withdrawalsReceived === 1 && received()?.prefixesReceived === 6, 10_000, 20);
    expect(node.status()[0]?.advertised).to.equal(5);
    await node.removePeer('127.0.0.1', { communication: 'peer removed' });
    expect(node.status()).to.deep.equal([]);
    await waitFor('router sees the shutdown', () => received()?.lastNotificationReceived === 'Cease / Administrative Shutdown: "peer removed"', 10_000, 20);
  });

  it('a graceful stop closes without a NOTIFICATION', async () => {
    await connectNode();
    await node.stop({ graceful: true });
    await waitFor('router sees the session down', () => router.status()[0]?.state !== 'Established', 10_000, 20);
    expect(received()?.lastNotificationReceived).to.equal(undefined);
    expect(received()?.notificationsReceived).to.equal(0);
  });

  it('refuses a peer in the wrong AS with Bad Peer AS', async () => {
    await node.addPeer({ peerAddress: '127.0.0.1', peerAsn: 64999, port: router.listenPort ?? 0, sourceAddress: '127.0.0.2' });
    await waitFor('notification', () => received()?.lastNotificationReceived, 10_000, 20);
    expect(received()?.lastNotificationReceived).to.equal('OPEN Message Error / Bad Peer AS');
    expect(node.status()[0]?.stats.notificationsSent).to.be.at.least(1);
  });

  it('with the configured keepalive, dynamic external peer AS, and the local address in the status', async () => {
    await router.removePeer('127.0.0.2');
    await router.addPeer({ peerAddress: '127.0.0.2', peerAsn: 'external', passive: true, holdTimeSec: 90, keepaliveTimeSec: 7 });
    await connectNode([], { holdTimeSec: 60 });
    expect(router.status()[0]).to.include({ state: 'Established', remoteAsn: 65001, localAddress: '127.0.0.1', holdTimeSec: 60, keepaliveSec: 7 });
    expect(node.status()[0]).to.include({ localAddress: '127.0.0.2', remoteAsn: 64512, holdTimeSec: 60, keepaliveSec: 20 });
  });

  it("a dynamic external peer in our own AS gets Bad Peer AS", async () => {
    await router.removePeer('127.0.0.2');
    await router.addPeer({ peerAddress: '127.0.0.2', peerAsn: 'external', passive: true });
    const sameAs = new BgpSpeaker({ routerId: '192.0.2.12', localAsn: 64512, log });
    try {
      await sameAs.addPeer({ peerAddress: '127.0.0.1', peerAsn: 64512, port: router.listenPort ?? 0, sourceAddress: '127.0.0.2' });
      await waitFor('notification', () => sameAs.status()[0]?.stats.lastNotificationReceived, 10_000, 20);
      expect(sameAs.status()[0]?.stats.lastNotificationReceived).to.equal('OPEN Message Error / Bad Peer AS');
      expect(router.status()[0]?.stats.lastError).to.equal('peer AS 64512 is not any AS but our own 64512 (dynamic external)');
    } finally {
      await sameAs.stop();
    }
  });

  it('rejects bad configuration with the field and the value', async () => {
    const bad = [
      [{ peerAddress: 'router1', peerAsn: 1 }, 'peerAddress "router1"'],
      [{ peerAddress: '192.0.2.1', peerAsn: 0 }, 'peerAsn 0'],
      [{ peerAddress: '192.0.2.1', peerAsn: 1, keepaliveTimeSec: 0 }, 'keepaliveTimeSec 0 must be 1..65535'],
      [{ peerAddress: '192.0.2.1', peerAsn: 1, keepaliveTimeSec: 90 }, 'keepaliveTimeSec 90 must be less than the hold time (90)'],
      [{ peerAddress: '192.0.2.1', peerAsn: 1, connectRetrySec: 0.5 }, 'connectRetrySec 0.5 must be 1..65535'],
      [{ peerAddress: '192.0.2.1', peerAsn: 1, holdTimeSec: 2 }, 'holdTimeSec 2'],
      [{ peerAddress: '192.0.2.1', peerAsn: 1, nextHop6: '192.0.2.1' }, 'nextHop6 "192.0.2.1"'],
    ] as const;
    for (const [config, text] of bad) {
      let message = '';
      try {
        await node.addPeer(config);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).to.contain(text);
    }
  });
});

describe('BGP connection collision over loopback (both sides connect and listen)', function () {
  this.timeout(30_000);
  it('ends with one session, Established once on each side', async () => {
    const a = new BgpSpeaker({ routerId: '192.0.2.1', localAsn: 64512, listen: { port: 0, address: '127.0.0.1' }, log });
    const b = new BgpSpeaker({ routerId: '192.0.2.2', localAsn: 65001, listen: { port: 0, address: '127.0.0.2' }, log });
    try {
      await Promise.all([a.start(), b.start()]);
      await Promise.all([
        a.addPeer({ peerAddress: '127.0.0.2', peerAsn: 65001, port: b.listenPort ?? 0, sourceAddress: '127.0.0.1' }),
        b.addPeer({ peerAddress: '127.0.0.1', peerAsn: 64512, port: a.listenPort ?? 0, sourceAddress: '127.0.0.2' }),
      ]);
      await waitFor('both Established', () => a.status()[0]?.state === 'Established' && b.status()[0]?.state === 'Established', 20_000, 20);
      // The losing connection is closed; the winner is not torn down and redone.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(a.session('127.0.0.2')?.stats.establishedCount).to.equal(1);
      expect(b.session('127.0.0.1')?.stats.establishedCount).to.equal(1);
      expect([a.status()[0]?.state, b.status()[0]?.state]).to.deep.equal(['Established', 'Established']);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe('BGP session toward an old peer (no capabilities at all)', function () {
  this.timeout(20_000);
  it('gets IPv4 only, AS_TRANS in AS_PATH with the real 4-octet ASN in AS4_PATH, and one End-of-RIB', async () => {
    const twoOctet: CodecOptions = { fourOctetAs: false, extendedMessages: false };
    const received: Array<{ message: BgpMessage; bytes: Buffer }> = [];
    const server = net.createServer((socket) => {
      const framer = new MessageFramer();
      socket.on('data', (chunk: Buffer) => {
        for (const bytes of framer.push(chunk).messages) {
          const result = decodeMessage(bytes, twoOctet);
          if (!result.ok) throw new Error(result.error.reason);
          received.push({ message: result.message, bytes });
          if (result.message.type === 'open') {
            socket.write(encodeMessage({ type: 'open', version: 4, myAs: 64512, holdTimeSec: 90, bgpIdentifier: '192.0.2.1', capabilities: [] }, twoOctet));
            socket.write(encodeMessage({ type: 'keepalive' }, twoOctet));
          }
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const node = new BgpSpeaker({ routerId: '192.0.2.11', localAsn: 4200000001, log });
    try {
      await node.addPeer({ peerAddress: '127.0.0.1', peerAsn: 64512, port, sourceAddress: '127.0.0.2', nextHop6: '2001:db8::11' }, [
        { prefix: parsePrefix('203.0.113.10/32') },
        { prefix: parsePrefix('2001:db8:ffff::10/128') },
      ]);
      const updates = (): Array<{ message: UpdateMessage; bytes: Buffer }> =>
        received.flatMap((r) => (r.message.type === 'update' ? [{ message: r.message, bytes: r.bytes }] : []));
      await waitFor('End-of-RIB', () => updates().some((u) => endOfRibFamily(u.message) !== undefined), 10_000, 20);
      const open = received[0]?.message;
      expect(open).to.deep.include({ type: 'open', myAs: 23456 });
      const routes = updates().filter((u) => endOfRibFamily(u.message) === undefined);
      expect(routes.flatMap((u) => u.message.nlri.map(formatPrefix))).to.deep.equal(['203.0.113.10/32']);
      expect(routes.some((u) => u.message.attributes.mpReach)).to.equal(false);
      // decoded (AS4_PATH merged back): the real ASN; on the wire: AS_TRANS (0x5ba0) and an AS4_PATH (type 17)
      expect(routes[0]?.message.attributes.asPath).to.deep.equal([{ type: 'sequence', asns: [4200000001] }]);
      const wire = routes[0]?.bytes ?? Buffer.alloc(0);
      expect(wire.includes(Buffer.from([0x5b, 0xa0]))).to.equal(true);
      // AS4_PATH: optional transitive (0xc0, maybe with extended length 0x10), type 17
      expect(wire.includes(Buffer.from([0xc0, 0x11])) || wire.includes(Buffer.from([0xd0, 0x11]))).to.equal(true);
      expect(updates().filter((u) => endOfRibFamily(u.message) !== undefined).map((u) => endOfRibFamily(u.message))).to.deep.equal([{ afi: 1, safi: 1 }]);
    } finally {
      await node.stop();
      server.close();
    }
  });
});

describe('BGP session fed garbage by its peer', function () {
  this.timeout(20_000);
  it('answers a broken header with NOTIFICATION 1/1, drops the session and keeps running', async () => {
    const options: CodecOptions = { fourOctetAs: true, extendedMessages: false };
    const notifications: BgpMessage[] = [];
    const server = net.createServer((socket) => {
      const framer = new MessageFramer();
      socket.on('data', (chunk: Buffer) => {
        for (const bytes of framer.push(chunk).messages) {
          const result = decodeMessage(bytes, options);
          if (!result.ok) continue;
          if (result.message.type === 'notification') notifications.push(result.message);
          if (result.message.type === 'open') {
            socket.write(encodeMessage({ type: 'open', version: 4, myAs: 64512, holdTimeSec: 90, bgpIdentifier: '192.0.2.1', capabilities: [{ kind: 'fourOctetAs', asn: 64512 }] }, options));
            socket.write(encodeMessage({ type: 'keepalive' }, options));
          }
          if (result.message.type === 'keepalive') socket.write(Buffer.alloc(40, 0x42)); // no marker: not BGP
        }
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const node = new BgpSpeaker({ routerId: '192.0.2.11', localAsn: 65001, log });
    try {
      await node.addPeer({ peerAddress: '127.0.0.1', peerAsn: 64512, port: (server.address() as net.AddressInfo).port, sourceAddress: '127.0.0.2' });
      await waitFor('NOTIFICATION from our speaker', () => notifications.length > 0, 10_000, 20);
      expect(notifications[0]).to.deep.include({ code: 1, subcode: 1 });
      await waitFor('session down', () => node.status()[0]?.state !== 'Established', 10_000, 20);
      expect(node.status()[0]?.stats.lastError).to.contain('malformed message');
    } finally {
      await node.stop();
      server.close();
    }
  });
});
