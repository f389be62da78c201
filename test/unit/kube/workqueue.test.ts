import { expect } from 'chai';
import fc from 'fast-check';
import { WorkQueue } from '../../../src/kube/workqueue.ts';
import { Backoff } from '../../../src/kube/backoff.ts';

describe('kube/WorkQueue', () => {
  it('runs a key added many times while waiting only once', async () => {
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const queue = new WorkQueue(async (key) => {
      seen.push(key);
      if (key === 'busy') await gate;
    });
    queue.add('busy'); // occupies the only worker, so the others wait
    queue.add('a');
    queue.add('a');
    queue.add('b');
    queue.add('a');
    expect(queue.length).to.equal(2);
    release();
    await queue.idle();
    expect(seen).to.deep.equal(['busy', 'a', 'b']);
  });

  it('runs a key again when it was added while being processed', async () => {
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const queue = new WorkQueue(async (key) => {
      seen.push(key);
      if (seen.length === 1) await gate;
    });
    queue.add('a');
    queue.add('a'); // now active: must run once more afterwards
    release();
    await queue.idle();
    await new Promise((resolve) => setImmediate(resolve));
    await queue.idle();
    expect(seen).to.deep.equal(['a', 'a']);
  });

  it('never processes one key twice at the same time, even with concurrency', async () => {
    const running = new Set<string>();
    let overlaps = 0;
    const queue = new WorkQueue(
      async (key) => {
        if (running.has(key)) overlaps++;
        running.add(key);
        await new Promise((resolve) => setImmediate(resolve));
        running.delete(key);
      },
      { concurrency: 4 },
    );
    for (let i = 0; i < 50; i++) queue.add(`k${i % 5}`);
    await queue.idle();
    expect(overlaps).to.equal(0);
  });

  it('retries a failing key with back-off and reports the error, without blocking other keys', async () => {
    const attempts: string[] = [];
    const errors: string[] = [];
    let failuresLeft = 2;
    const queue = new WorkQueue(
      async (key) => {
        attempts.push(key);
        if (key === 'bad' && failuresLeft-- > 0) throw new Error('boom');
      },
      { backoffBaseMs: 1, backoffMaxMs: 5, onError: (key, error) => errors.push(`${key}: ${(error as Error).message}`) },
    );
    queue.add('bad');
    queue.add('good');
    while (attempts.filter((k) => k === 'bad').length < 3) await new Promise((resolve) => setTimeout(resolve, 2));
    await queue.idle();
    expect(attempts.filter((k) => k === 'bad')).to.have.length(3);
    expect(attempts).to.include('good');
    expect(errors).to.deep.equal(['bad: boom', 'bad: boom']);
  });

  it('honours requeueAfterMs for level-triggered resyncs and stops cleanly', async () => {
    let runs = 0;
    const queue = new WorkQueue(async () => {
      runs++;
      return runs < 3 ? { requeueAfterMs: 1 } : {};
    });
    queue.add('x');
    while (runs < 3) await new Promise((resolve) => setTimeout(resolve, 2));
    queue.stop();
    queue.add('x');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(runs).to.equal(3);
  });
});

describe('kube/Backoff', () => {
  it('grows, stays within its cap, and starts over after reset', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1000, max: 60_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (base, max, r) => {
        const backoff = new Backoff(base, max, () => r);
        let previousCeiling = 0;
        for (let i = 0; i < 40; i++) {
          const delay = backoff.next();
          const ceiling = Math.min(max, base * 2 ** i);
          expect(delay).to.be.at.least(Math.floor(ceiling / 2)).and.at.most(ceiling);
          expect(ceiling).to.be.at.least(previousCeiling);
          previousCeiling = ceiling;
        }
        backoff.reset();
        expect(backoff.next()).to.be.at.most(base);
      }),
    );
  });
});
