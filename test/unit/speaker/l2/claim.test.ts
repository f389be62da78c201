import { expect } from 'chai';
import fc from 'fast-check';
import {
  advanceClaim,
  answersOverride,
  answersProbes,
  answersRequests,
  claimTiming,
  foreignClaim,
  nextWakeAt,
  reclaim,
  releaseClaim,
  startClaim,
  type ClaimEffect,
  type ClaimState,
  type ClaimTiming,
} from '../../../../src/speaker/l2/claim.ts';

const timing = claimTiming({ probeCount: 2, probeIntervalMs: 50, probeWaitMs: 100, announceCount: 3, announceIntervalMs: 100, conflictBackoffMs: 1000, conflictBackoffMaxMs: 4000, releaseTimeoutMs: 2000 });

/** Wakes the claim at every deadline until it rests (or `until`), collecting effects with their times. */
function runUntilIdle(state: ClaimState, from: number, t: ClaimTiming, until = Infinity): { state: ClaimState; effects: Array<ClaimEffect & { at: number }>; now: number } {
  const effects: Array<ClaimEffect & { at: number }> = [];
  let now = from;
  for (let due = nextWakeAt(state); due !== undefined && due <= until; due = nextWakeAt(state)) {
    now = due;
    const step = advanceClaim(state, now, t);
    state = step.state;
    effects.push(...step.effects.map((effect) => ({ ...effect, at: now })));
  }
  return { state, effects, now };
}

const timings = fc.record({
  probeCount: fc.integer({ min: 0, max: 4 }),
  probeIntervalMs: fc.integer({ min: 1, max: 500 }),
  probeWaitMs: fc.integer({ min: 1, max: 1000 }),
  announceCount: fc.integer({ min: 1, max: 6 }),
  announceIntervalMs: fc.integer({ min: 1, max: 500 }),
  conflictBackoffMs: fc.integer({ min: 1, max: 1000 }),
  conflictBackoffMaxMs: fc.integer({ min: 1000, max: 100_000 }),
  releaseTimeoutMs: fc.integer({ min: 0, max: 5000 }),
});

describe('speaker/l2: claim state machine', () => {
  it('probes, waits, then announces the configured number of times and rests announced', () => {
    const start = startClaim(0, timing);
    expect(start.effects).to.deep.equal([{ type: 'probe' }]);
    expect(answersRequests(start.state)).to.equal(false);
    const run = runUntilIdle(start.state, 0, timing);
    expect(run.effects).to.deep.equal([
      { type: 'probe', at: 50 },
      { type: 'announce', first: true, at: 150 },
      { type: 'announce', first: false, at: 250 },
      { type: 'announce', first: false, at: 350 },
    ]);
    expect(run.state).to.deep.equal({ phase: 'announced' });
    expect(answersRequests(run.state) && answersProbes(run.state)).to.equal(true);
  });

  it('for any timing: probeCount probes, then announceCount announcements, never answering before the probe wait is over', () => {
    fc.assert(
      fc.property(timings, fc.integer({ min: 0, max: 1e9 }), (t, start) => {
        const first = startClaim(start, t);
        const run = runUntilIdle(first.state, start, t);
        const effects = [...first.effects.map((effect) => ({ ...effect, at: start })), ...run.effects];
        expect(effects.filter((e) => e.type === 'probe')).to.have.length(t.probeCount);
        const announcements = effects.filter((e) => e.type === 'announce');
        expect(announcements).to.have.length(t.announceCount);
        expect(announcements.filter((e) => e.type === 'announce' && e.first)).to.have.length(1);
        const earliest = t.probeCount === 0 ? start : start + (t.probeCount - 1) * t.probeIntervalMs + t.probeWaitMs;
        expect(announcements[0]?.at).to.equal(earliest);
        expect(run.state.phase).to.equal('announced');
      }),
    );
  });

  it('does the due work once when woken late (a busy event loop), and nothing more when woken twice', () => {
    const start = startClaim(0, timing);
    const late = advanceClaim(start.state, 10_000, timing);
    expect(late.effects.map((e) => e.type)).to.deep.equal(['probe', 'announce', 'announce', 'announce']);
    expect(advanceClaim(late.state, 10_000, timing).effects).to.deep.equal([]);
  });

  it('a foreign answer while probing is a conflict: nothing announced, re-probe after a doubling back-off up to the maximum', () => {
    let state = startClaim(0, timing).state;
    const retries: number[] = [];
    let now = 0;
    for (let attempt = 0; attempt < 5; attempt++) {
      const step = foreignClaim(state, now + 10, timing, '02:00:00:00:00:99', 'eth0');
      expect(step.effects).to.have.length(1);
      const effect = step.effects[0];
      if (effect?.type !== 'conflict') throw new Error('expected a conflict');
      expect(effect).to.include({ foreignMac: '02:00:00:00:00:99', interface: 'eth0' });
      retries.push(effect.retryInMs);
      expect(answersRequests(step.state)).to.equal(false);
      // Nothing happens before the back-off is over…
      expect(advanceClaim(step.state, now + 10 + effect.retryInMs - 1, timing).effects).to.deep.equal([]);
      // …then it probes again.
      now = now + 10 + effect.retryInMs;
      const retry = advanceClaim(step.state, now, timing);
      expect(retry.effects).to.deep.equal([{ type: 'probe' }]);
      state = retry.state;
    }
    expect(retries).to.deep.equal([1000, 2000, 4000, 4000, 4000]);
  });

  it('never announces while another MAC answers every probe', () => {
    fc.assert(
      fc.property(timings.filter((t) => t.probeCount > 0), fc.integer({ min: 1, max: 30 }), (t, rounds) => {
        let step = startClaim(0, t);
        let now = 0;
        for (let round = 0; round < rounds; round++) {
          if (step.effects.some((e) => e.type === 'probe')) step = foreignClaim(step.state, now, t, '02:00:00:00:00:99', 'eth0');
          now = nextWakeAt(step.state) ?? now;
          step = advanceClaim(step.state, now, t);
          expect(step.effects.map((e) => e.type)).to.not.include('announce');
          expect(answersRequests(step.state)).to.equal(false);
        }
      }),
    );
  });

  it('releasing keeps answering requests but not probes, and ends when the successor announces', () => {
    const announced = runUntilIdle(startClaim(0, timing).state, 0, timing).state;
    const releasing = releaseClaim(announced, 1000, timing);
    expect(releasing.effects).to.deep.equal([]);
    expect(answersRequests(releasing.state)).to.equal(true);
    expect(answersProbes(releasing.state)).to.equal(false);
    expect(answersOverride(announced)).to.equal(true);
    expect(answersOverride(releasing.state)).to.equal(false);
    const taken = foreignClaim(releasing.state, 1100, timing, '02:00:00:00:00:02', 'eth0');
    expect(taken.effects).to.deep.equal([{ type: 'withdraw', reason: 'takenOver', byMac: '02:00:00:00:00:02' }]);
    expect(taken.state.phase).to.equal('released');
  });

  it('a release that no successor takes ends after the release timeout', () => {
    const announced = runUntilIdle(startClaim(0, timing).state, 0, timing).state;
    const releasing = releaseClaim(announced, 1000, timing).state;
    expect(advanceClaim(releasing, 2999, timing).effects).to.deep.equal([]);
    expect(advanceClaim(releasing, 3000, timing)).to.deep.equal({ state: { phase: 'released' }, effects: [{ type: 'withdraw', reason: 'timeout' }] });
  });

  it('releasing before anything was answered ends at once with nothing to withdraw', () => {
    const probing = startClaim(0, timing).state;
    expect(releaseClaim(probing, 10, timing)).to.deep.equal({ state: { phase: 'released' }, effects: [] });
    const conflict = foreignClaim(probing, 10, timing, '02:00:00:00:00:99', 'eth0').state;
    expect(releaseClaim(conflict, 20, timing)).to.deep.equal({ state: { phase: 'released' }, effects: [] });
  });

  it('from any reachable state, a release ends in released within the release timeout, and withdraws only what was answered', () => {
    const actions = fc.array(fc.tuple(fc.constantFrom('wait', 'foreign', 'reclaim'), fc.integer({ min: 0, max: 300 })), { maxLength: 20 });
    fc.assert(
      fc.property(timings, actions, (t, steps) => {
        let state = startClaim(0, t).state;
        let now = 0;
        for (const [action, gap] of steps) {
          now += gap;
          state = advanceClaim(state, now, t).state;
          if (action === 'foreign') state = foreignClaim(state, now, t, '02:00:00:00:00:99', 'eth0').state;
          if (action === 'reclaim') state = reclaim(state, now, t).state;
        }
        const wasAnswering = answersRequests(state);
        const release = releaseClaim(state, now, t);
        const rest = runUntilIdle(release.state, now, t);
        expect(rest.state.phase).to.equal('released');
        expect(rest.now - now).to.be.at.most(t.releaseTimeoutMs);
        const withdrawals = [...release.effects, ...rest.effects].filter((e) => e.type === 'withdraw');
        expect(withdrawals).to.have.length(wasAnswering ? 1 : 0);
      }),
    );
  });

  it('wanted again while releasing: announces again without a probe (it never stopped answering)', () => {
    const announced = runUntilIdle(startClaim(0, timing).state, 0, timing).state;
    const releasing = releaseClaim(announced, 1000, timing).state;
    const again = reclaim(releasing, 1100, timing);
    expect(again.effects).to.deep.equal([{ type: 'announce', first: false }]);
    expect(answersProbes(again.state)).to.equal(true);
  });

  it('rejects a bad timing naming the field and value', () => {
    expect(() => claimTiming({ probeWaitMs: -1 })).to.throw(RangeError, /probeWaitMs: -1/);
    expect(() => claimTiming({ announceCount: 0 })).to.throw(RangeError, /announceCount: 0/);
    expect(() => claimTiming({ conflictBackoffMs: 10, conflictBackoffMaxMs: 5 })).to.throw(RangeError, /conflictBackoffMaxMs: 5/);
    expect(() => claimTiming({ probeIntervalMs: 1.5 })).to.throw(RangeError, /probeIntervalMs: 1.5/);
  });
});
