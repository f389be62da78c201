import { expect } from 'chai';
import dgram from 'node:dgram';
import { LivenessAgent } from '../../../src/speaker/liveness/transport.ts';
import type { MemberEvent } from '../../../src/speaker/liveness/membership.ts';
import { encodeHeartbeat } from '../../../src/speaker/liveness/heartbeat.ts';

const key = Buffer.from('liveness test key, 32 bytes long');

async function until(condition: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('speaker/liveness over UDP (loopback)', () => {
  const agents: LivenessAgent[] = [];
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((agent) => agent.stop().catch(() => undefined)));
  });

  async function cluster(names: string[]): Promise<Map<string, { agent: LivenessAgent; events: MemberEvent[] }>> {
    const result = new Map<string, { agent: LivenessAgent; events: MemberEvent[] }>();
    for (const name of names) {
      const agent = new LivenessAgent({ self: name, key, bindAddress: '127.0.0.1', port: 0, interfaces: ['eth0'], intervalMs: 20, missedHeartbeats: 5 });
      const events: MemberEvent[] = [];
      agent.onEvent((event) => events.push(event));
      await agent.start();
      agents.push(agent);
      result.set(name, { agent, events });
    }
    for (const [name, { agent }] of result) {
      agent.setPeers([...result].filter(([other]) => other !== name).map(([, o]) => ({ address: '127.0.0.1', port: o.agent.port })));
    }
    return result;
  }

  it('every speaker comes to see every other as live', async () => {
    const nodes = await cluster(['a', 'b', 'c']);
    await until(() => [...nodes.values()].every(({ agent }) => agent.membership.live().size === 3), 'all three see three live');
  });

  it('a stopped speaker is failed by the others, a leaving one is removed at once', async () => {
    const nodes = await cluster(['a', 'b', 'c']);
    await until(() => [...nodes.values()].every(({ agent }) => agent.membership.live().size === 3), 'all live');
    const b = nodes.get('b')!;
    await b.agent.leave();
    await until(() => !nodes.get('a')!.agent.membership.live().has('b'), 'a sees b gone');
    expect(nodes.get('a')!.events).to.deep.include({ type: 'left', node: 'b' });
    const c = nodes.get('c')!;
    await c.agent.stop();
    await until(() => !nodes.get('a')!.agent.membership.live().has('c'), 'a fails c');
    expect(nodes.get('a')!.events.some((event) => event.type === 'failed' && event.node === 'c')).to.equal(true);
  });

  it('drops and counts heartbeats with a wrong key or replayed ones', async () => {
    const nodes = await cluster(['a']);
    const a = nodes.get('a')!.agent;
    const sender = dgram.createSocket('udp4');
    const send = (datagram: Buffer) => new Promise<void>((resolve) => sender.send(datagram, a.port, '127.0.0.1', () => resolve()));
    const forged = encodeHeartbeat({ node: 'mallory', incarnation: 1n, sequence: 1n, sentAt: BigInt(Date.now()), leaving: false, interfaces: [] }, Buffer.from('wrong key'));
    const genuine = encodeHeartbeat({ node: 'x', incarnation: 1n, sequence: 7n, sentAt: BigInt(Date.now()), leaving: false, interfaces: [] }, key);
    await send(forged);
    await send(genuine);
    await send(genuine);
    await until(() => a.counters.unauthenticated === 1 && a.membership.counters.replayed === 1, 'forged and replay counted');
    expect(a.membership.live().has('mallory')).to.equal(false);
    expect(a.membership.live().has('x')).to.equal(true);
    sender.close();
  });

  it('a speaker that restarted refuses a genuine heartbeat recorded before the freshness window (replay), and accepts the live sender', async () => {
    // Recorded from node y 6 s ago (the default window is 5 s), replayed to a receiver that has never heard of y.
    const recording = encodeHeartbeat({ node: 'y', incarnation: 1n, sequence: 1_000n, sentAt: BigInt(Date.now() - 6_000), leaving: false, interfaces: ['eth0'] }, key);
    const nodes = await cluster(['a']);
    const a = nodes.get('a')!.agent;
    const sender = dgram.createSocket('udp4');
    const send = (datagram: Buffer) => new Promise<void>((resolve) => sender.send(datagram, a.port, '127.0.0.1', () => resolve()));
    try {
      await send(recording);
      await until(() => a.membership.counters.stale === 1, 'the replay refused as stale');
      expect(a.membership.live().has('y')).to.equal(false);
      expect(nodes.get('a')!.events).to.deep.equal([]);
      // The same node, heard live: a joined node (the replay did not poison its record).
      await send(encodeHeartbeat({ node: 'y', incarnation: 1n, sequence: 1n, sentAt: BigInt(Date.now()), leaving: false, interfaces: ['eth0'] }, key));
      await until(() => a.membership.live().has('y'), 'the live heartbeat accepted');
      expect(nodes.get('a')!.events).to.deep.equal([{ type: 'joined', node: 'y' }]);
    } finally {
      sender.close();
    }
  });
});
