import { expect } from 'chai';
import fc from 'fast-check';
import { BfdDiag, BfdState, type ControlPacket } from '../../../src/bfd/codec.ts';
import { createSession, detectionTimeUs, jitteredIntervalMs, SLOW_TX_US, step, type BfdAction, type BfdConfig, type BfdSession } from '../../../src/bfd/fsm.ts';
import { seededRandom } from '../../support/random.ts';
import { Sim } from './sim.ts';
import { downPacket } from './packets.ts';

const ms = (n: number): number => n * 1000;

function config(overrides: Partial<BfdConfig> = {}): BfdConfig {
  return { localDiscriminator: 1, desiredMinTxUs: ms(300), requiredMinRxUs: ms(300), detectMult: 3, passive: false, random: () => 0.5, ...overrides };
}

function sim(a: Partial<BfdConfig> = {}, b: Partial<BfdConfig> = {}, random?: () => number): Sim {
  return new Sim([config({ localDiscriminator: 0x1111, ...a }), config({ localDiscriminator: 0x2222, ...b })], random);
}

const sends = (actions: BfdAction[]): ControlPacket[] => actions.flatMap((a) => (a.type === 'send' ? [a.packet] : []));
const timerMs = (actions: BfdAction[], timer: 'tx' | 'detect'): number | undefined =>
  actions.flatMap((a) => (a.type === 'setTimer' && a.timer === timer ? [a.ms] : [])).at(-1);

function drive(session: BfdSession, ...events: Parameters<typeof step>[1][]): { session: BfdSession; actions: BfdAction[] } {
  const actions: BfdAction[] = [];
  for (const event of events) {
    const r = step(session, event);
    session = r.session;
    actions.push(...r.actions);
  }
  return { session, actions };
}

/** Both ends Up and their Poll sequences finished. */
const settled = (s: Sim): boolean => s.state(0) === BfdState.Up && s.state(1) === BfdState.Up && !s.sessions[0].polling && !s.sessions[1].polling;

describe('bfd state machine', () => {
  it('comes Up by the three-way handshake Down → Init → Up, C bit 0, no echo', () => {
    const s = sim();
    s.apply(0, { type: 'start' });
    s.apply(1, { type: 'start' });
    s.runUntil(5000);
    expect(s.state(0)).to.equal(BfdState.Up);
    expect(s.state(1)).to.equal(BfdState.Up);
    expect(s.log.filter((l) => l.end === 0).map((l) => `${BfdState[l.from]}→${BfdState[l.to]}`)).to.deep.equal(['Down→Init', 'Init→Up']);
    for (const { bytes } of s.sent) {
      expect(bytes[1]! & 0x08, 'C bit').to.equal(0);
      expect(bytes.readUInt32BE(20), 'Required Min Echo RX').to.equal(0);
    }
  });

  it('sends at most once a second until Up, and at the configured rate after the Poll sequence', () => {
    const s = sim({ desiredMinTxUs: ms(50), requiredMinRxUs: ms(50) }, { desiredMinTxUs: ms(50), requiredMinRxUs: ms(50) });
    s.apply(0, { type: 'start' });
    s.runUntil(3500); // the other end is silent: end 0 stays Down
    const periodic = s.sent.filter((p) => p.end === 0);
    expect(periodic.length).to.be.within(3, 5);
    for (let i = 1; i < periodic.length; i++) expect(periodic[i]!.at - periodic[i - 1]!.at).to.be.at.least(750);
    expect(periodic.every((p) => p.bytes.readUInt32BE(12) >= SLOW_TX_US)).to.equal(true);
    s.apply(1, { type: 'start' });
    s.runUntilTrue(10_000, () => settled(s));
    expect(settled(s)).to.equal(true);
    expect(s.sessions[0].advertised.desiredMinTxUs).to.equal(ms(50));
    const from = s.now;
    s.runUntil(from + 1000);
    const fast = s.sent.filter((p) => p.end === 0 && p.at > from);
    expect(fast.length).to.be.within(19, 27); // 50 ms less 0–25 % jitter over one second
  });

  it('applies RFC 5880 jitter: 75–100 % of the interval, at most 90 % with Detect Mult 1', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 10 }), (r, mult) => {
        const session = { ...createSession(config({ detectMult: mult, random: () => r })), remoteMinRxUs: 1 };
        const interval = jitteredIntervalMs(session);
        expect(interval).to.be.at.least(750);
        expect(interval).to.be.at.most(mult === 1 ? 900 : 1000);
      }),
    );
  });

  it('property: from any start (lost packets, cut links, restarts, profile changes) both ends come Up once the link is clean', () => {
    const timers = fc.record({ desiredMinTxUs: fc.integer({ min: ms(10), max: ms(2000) }), requiredMinRxUs: fc.integer({ min: ms(10), max: ms(2000) }), detectMult: fc.integer({ min: 1, max: 10 }) });
    const chaos = fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant('run' as const), ms: fc.integer({ min: 0, max: 5000 }), loss: fc.double({ min: 0, max: 1, noNaN: true }), linkUp: fc.boolean() }),
        fc.record({ kind: fc.constant('restart' as const), end: fc.constantFrom<0 | 1>(0, 1), discriminator: fc.integer({ min: 1, max: 0xffffffff }) }),
        fc.record({ kind: fc.constant('timers' as const), end: fc.constantFrom<0 | 1>(0, 1), timers }),
      ),
      { maxLength: 12 },
    );
    fc.assert(
      fc.property(timers, timers, fc.constantFrom<[boolean, boolean]>([false, false], [true, false], [false, true]), chaos, fc.integer(), (t0, t1, [p0, p1], steps, seed) => {
        const random = seededRandom(seed);
        const configs: [BfdConfig, BfdConfig] = [config({ ...t0, passive: p0, localDiscriminator: 0x1111, random }), config({ ...t1, passive: p1, localDiscriminator: 0x2222, random })];
        const s = new Sim(configs, random);
        s.apply(0, { type: 'start' });
        s.apply(1, { type: 'start' });
        for (const c of steps) {
          if (c.kind === 'run') {
            s.loss = c.loss;
            s.linkUp = c.linkUp;
            s.runUntil(s.now + c.ms);
          } else if (c.kind === 'restart') {
            configs[c.end] = { ...configs[c.end], localDiscriminator: c.discriminator };
            s.restart(c.end, configs[c.end]);
            s.apply(c.end, { type: 'start' });
          } else {
            configs[c.end] = { ...configs[c.end], ...c.timers };
            s.apply(c.end, { type: 'setTimers', timers: c.timers });
          }
        }
        s.loss = 0;
        s.linkUp = true;
        // Worst case: a detection time at the slow rate (10 × 2 s) to clear stale state, then the handshake at 1 s.
        s.runUntilTrue(s.now + 60_000, () => settled(s));
        expect(s.state(0), 'end 0').to.equal(BfdState.Up);
        expect(s.state(1), 'end 1').to.equal(BfdState.Up);
        expect(s.sessions[0].polling || s.sessions[1].polling, 'poll sequences finished').to.equal(false);
        expect(s.sessions[0].advertised.desiredMinTxUs).to.equal(configs[0].desiredMinTxUs);
        expect(s.sessions[1].advertised.requiredMinRxUs).to.equal(configs[1].requiredMinRxUs);
      }),
      { numRuns: 150 },
    );
  });

  it('property: a silent peer is declared Down (Diag 1) exactly one detection time, remote mult × max(our RX, its TX), after its last packet', () => {
    const timers = fc.record({ desiredMinTxUs: fc.integer({ min: ms(10), max: ms(1000) }), requiredMinRxUs: fc.integer({ min: ms(10), max: ms(1000) }), detectMult: fc.integer({ min: 1, max: 10 }) });
    fc.assert(
      fc.property(timers, timers, fc.integer(), (t0, t1, seed) => {
        const random = seededRandom(seed);
        const s = new Sim([config({ ...t0, localDiscriminator: 1, random }), config({ ...t1, localDiscriminator: 2, random })], random);
        s.apply(0, { type: 'start' });
        s.apply(1, { type: 'start' });
        s.runUntilTrue(30_000, () => settled(s));
        expect(settled(s)).to.equal(true);
        s.runUntil(s.now + 500);
        s.linkUp = false;
        const expectedMs = (t1.detectMult * Math.max(t0.requiredMinRxUs, t1.desiredMinTxUs)) / 1000;
        expect(detectionTimeUs(s.sessions[0]) / 1000).to.equal(expectedMs);
        s.runUntilTrue(s.now + 20_000, () => s.state(0) === BfdState.Down);
        const lastHeard = s.lastReceived[0]; // packets in flight when the link was cut still arrive
        const down = s.log.find((l) => l.end === 0 && l.to === BfdState.Down);
        expect(down?.diag).to.equal(BfdDiag.ControlDetectionTimeExpired);
        expect(down!.at - lastHeard).to.be.closeTo(expectedMs, 1e-6);
        expect(s.sessions[0].remoteDiscriminator, 'remote discriminator zeroed').to.equal(0);
      }),
      { numRuns: 200 },
    );
  });

  it('property: a profile change while Up goes through Poll/Final without leaving Up; detection never shrinks before the Final', () => {
    const timers = fc.record({ desiredMinTxUs: fc.integer({ min: ms(10), max: ms(1000) }), requiredMinRxUs: fc.integer({ min: ms(10), max: ms(1000) }), detectMult: fc.integer({ min: 2, max: 10 }) });
    fc.assert(
      fc.property(timers, timers, timers, fc.integer(), (t0, t1, changed, seed) => {
        const random = seededRandom(seed);
        const s = new Sim([config({ ...t0, localDiscriminator: 1, random }), config({ ...t1, localDiscriminator: 2, random })], random);
        s.apply(0, { type: 'start' });
        s.apply(1, { type: 'start' });
        s.runUntilTrue(30_000, () => settled(s));
        const before = s.log.length;
        const sentBefore = s.sent.length;
        const oldRx = s.sessions[0].inUse.requiredMinRxUs;
        s.apply(0, { type: 'setTimers', timers: changed });
        const changes = changed.desiredMinTxUs !== t0.desiredMinTxUs || changed.requiredMinRxUs !== t0.requiredMinRxUs || changed.detectMult !== t0.detectMult;
        expect(s.sessions[0].polling).to.equal(changes);
        if (changes) {
          expect(s.sent.at(-1)!.bytes[1]! & 0x20, 'P bit sent at once').to.equal(0x20);
          expect(s.sessions[0].inUse.requiredMinRxUs).to.be.at.least(oldRx);
        }
        s.runUntilTrue(s.now + 30_000, () => settled(s));
        expect(s.log.slice(before), 'no state change').to.deep.equal([]);
        expect(s.sessions[0].inUse).to.deep.equal({ desiredMinTxUs: changed.desiredMinTxUs, requiredMinRxUs: changed.requiredMinRxUs });
        expect(s.sessions[1].remoteDesiredMinTxUs).to.equal(changed.desiredMinTxUs);
        // The peer answered the Poll with F, never with P and F together.
        if (changes) expect(s.sent.slice(sentBefore).some((p) => p.end === 1 && (p.bytes[1]! & 0x10) !== 0), 'F from the peer').to.equal(true);
        expect(s.sent.every((p) => (p.bytes[1]! & 0x30) !== 0x30)).to.equal(true);
      }),
      { numRuns: 150 },
    );
  });

  it('reschedules its transmission at once when the peer lowers its Required Min RX (FRR polls down from 1 s after Up)', () => {
    // End 1 sends fast but asks for slow reception first, as FRR does during its slow start.
    const s = sim({ desiredMinTxUs: ms(100), requiredMinRxUs: ms(100) }, { desiredMinTxUs: ms(100), requiredMinRxUs: ms(1000) });
    s.apply(0, { type: 'start' });
    s.apply(1, { type: 'start' });
    s.runUntilTrue(10_000, () => settled(s));
    expect(settled(s)).to.equal(true);
    s.runUntil(s.now + 300); // end 0's next packet is now up to a second away
    const before = s.log.length;
    s.apply(1, { type: 'setTimers', timers: { desiredMinTxUs: ms(100), requiredMinRxUs: ms(100), detectMult: 3 } });
    s.runUntil(s.now + 5000);
    expect(s.log.slice(before)).to.deep.equal([]);
  });

  it('answers a Poll with Final at once, outside the transmit timer', () => {
    const { session } = drive(createSession(config()), { type: 'start' });
    const r = step(session, { type: 'packet', packet: { ...downPacket(), poll: true } });
    const [reply] = sends(r.actions).filter((p) => p.final);
    expect(reply).to.include({ final: true, poll: false, yourDiscriminator: 7 });
  });

  it('passive: sends nothing until the peer has spoken; two passive ends never come Up', () => {
    const s = sim({ passive: true }, { passive: true });
    s.apply(0, { type: 'start' });
    s.apply(1, { type: 'start' });
    s.runUntil(10_000);
    expect(s.sent).to.deep.equal([]);
    const one = sim({ passive: true });
    one.apply(0, { type: 'start' });
    one.runUntil(3000);
    expect(one.sent).to.deep.equal([]);
    one.apply(1, { type: 'start' });
    one.runUntilTrue(10_000, () => settled(one));
    expect(settled(one)).to.equal(true);
  });

  it('planned stop: AdminDown with Diag 7; the peer goes Down (Diag 3) and is told it was not a path failure', () => {
    const s = sim();
    s.apply(0, { type: 'start' });
    s.apply(1, { type: 'start' });
    s.runUntilTrue(10_000, () => settled(s));
    s.apply(0, { type: 'adminDown' });
    const last = s.sent.at(-1)!.bytes;
    expect(last[0]! & 0x1f).to.equal(BfdDiag.AdministrativelyDown);
    expect(last[1]! >> 6).to.equal(BfdState.AdminDown);
    s.runUntil(s.now + 5000);
    expect(s.state(0)).to.equal(BfdState.AdminDown);
    expect(s.state(1)).to.equal(BfdState.Down);
    const peerDown = s.log.find((l) => l.end === 1 && l.to === BfdState.Down);
    expect(peerDown).to.include({ diag: BfdDiag.NeighborSignaledSessionDown, remoteAdminDown: true });
  });

  it('goes Down with Diag 3 when an Up peer says Down; a non-matching Your Discriminator is ignored', () => {
    const s = sim();
    s.apply(0, { type: 'start' });
    s.apply(1, { type: 'start' });
    s.runUntilTrue(10_000, () => settled(s));
    const stray = step(s.sessions[0], { type: 'packet', packet: { ...downPacket(), myDiscriminator: 0x2222, yourDiscriminator: 0x9999 } });
    expect(stray.session.state).to.equal(BfdState.Up);
    const down = step(s.sessions[0], { type: 'packet', packet: { ...downPacket(), myDiscriminator: 0x2222, yourDiscriminator: 0x1111 } });
    expect(down.session.state).to.equal(BfdState.Down);
    expect(down.session.localDiag).to.equal(BfdDiag.NeighborSignaledSessionDown);
    expect(down.actions).to.deep.include({ type: 'clearTimer', timer: 'detect' });
    expect(timerMs(down.actions, 'tx')).to.be.at.least(750); // back to the slow rate
  });

  it('refuses timers out of range, naming the field', () => {
    expect(() => createSession(config({ detectMult: 0 }))).to.throw(RangeError, 'detectMult: 0');
    expect(() => createSession(config({ localDiscriminator: 0 }))).to.throw(RangeError, 'localDiscriminator: 0');
    expect(() => step(createSession(config()), { type: 'setTimers', timers: { desiredMinTxUs: 0, requiredMinRxUs: 1, detectMult: 3 } })).to.throw(RangeError, 'desiredMinTxUs: 0');
  });
});
