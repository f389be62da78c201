import { expect } from 'chai';
import { TransitionTracker } from '../../../src/speaker/transitions.ts';

describe('speaker/transitions: why an IP moved here', () => {
  it('a first owner was simply elected', () => {
    const tracker = new TransitionTracker();
    tracker.ownersChanged(new Map(), new Map([['192.0.2.5', 'b']]), new Set(['a', 'b']));
    expect(tracker.transitionFor('192.0.2.5', 1000)).to.deep.equal({ reason: 'Elected' });
  });

  it('a failed owner: outage measured from its last heartbeat to our takeover', () => {
    const tracker = new TransitionTracker();
    tracker.memberEvent({ type: 'failed', node: 'a', silentForMs: 520 }, 10_000);
    tracker.ownersChanged(new Map([['192.0.2.5', 'a']]), new Map([['192.0.2.5', 'b']]), new Set(['b']));
    expect(tracker.transitionFor('192.0.2.5', 10_090)).to.deep.equal({ reason: 'NodeFailed', from: 'a', outageMs: 610 });
  });

  it('a planned leave hands over without outage', () => {
    const tracker = new TransitionTracker();
    tracker.memberEvent({ type: 'left', node: 'a' }, 5_000);
    tracker.ownersChanged(new Map([['192.0.2.5', 'a']]), new Map([['192.0.2.5', 'b']]), new Set(['b']));
    expect(tracker.transitionFor('192.0.2.5', 5_030)).to.deep.equal({ reason: 'NodeLeft', from: 'a', outageMs: 0 });
  });

  it('a live previous owner means the endpoints (or eligibility) moved, and a rejoin clears a departure', () => {
    const tracker = new TransitionTracker();
    tracker.memberEvent({ type: 'failed', node: 'a', silentForMs: 500 }, 1_000);
    tracker.memberEvent({ type: 'joined', node: 'a' }, 2_000);
    tracker.ownersChanged(new Map([['192.0.2.5', 'a']]), new Map([['192.0.2.5', 'b']]), new Set(['a', 'b']));
    expect(tracker.transitionFor('192.0.2.5', 3_000)).to.deep.equal({ reason: 'EndpointsMoved', from: 'a' });
  });
});
