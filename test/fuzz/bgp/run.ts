/**
 * Runs the BGP fuzz (fuzz.ts) in a worker thread under a per-input time budget: a watchdog
 * polls which input the worker is on, and when one input takes longer than the budget it
 * ends the worker and fails with the input's index, seed and bytes. A decoder that loops
 * forever fails the run instead of hanging it.
 */
import { Worker } from 'node:worker_threads';
import type { FuzzReport } from './fuzz.ts';

/** Larger than any BGP message (65535 octets with extended messages). */
const MAX_INPUT = 70_000;
/** Loading the worker (TypeScript, seed messages) before the first input: generous on a loaded machine. */
const STARTUP_MS = 120_000;

export class FuzzTimeout extends Error {}

export function runFuzz(inputs: number, seed: number, budgetMs: number): Promise<FuzzReport> {
  const progress = new SharedArrayBuffer(8);
  const current = new SharedArrayBuffer(MAX_INPUT);
  const counter = new Int32Array(progress);
  // The worker loads TypeScript as this process does, through tsx's loader registered in the
  // worker itself (Node 20 does not pass this process's loader hooks on to workers).
  const entry = new URL('./worker.ts', import.meta.url).href;
  const worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`, { eval: true, workerData: { inputs, seed, progress, current } });
  return new Promise<FuzzReport>((resolve, reject) => {
    let seen = -1;
    let since = Date.now();
    const watchdog = setInterval(() => {
      const at = Atomics.load(counter, 0);
      if (at !== seen) {
        seen = at;
        since = Date.now();
        return;
      }
      if (Date.now() - since <= (at === 0 ? STARTUP_MS : budgetMs)) return;
      clearInterval(watchdog);
      if (at === 0) {
        void worker.terminate();
        reject(new FuzzTimeout(`the fuzz worker did not start within ${STARTUP_MS} ms`));
        return;
      }
      const length = Atomics.load(counter, 1);
      const input = Buffer.from(new Uint8Array(current, 0, length)).toString('hex');
      void worker.terminate();
      reject(new FuzzTimeout(`input ${at - 1} (seed ${seed}) took longer than the ${budgetMs} ms budget per input: ${input}`));
    }, Math.min(100, budgetMs / 4));
    worker.once('message', (report: FuzzReport) => {
      clearInterval(watchdog);
      resolve(report);
    });
    worker.once('error', (error) => {
      clearInterval(watchdog);
      reject(error);
    });
    worker.once('exit', (code) => {
      clearInterval(watchdog);
      reject(new Error(`fuzz worker exited (${code}) without a report`));
    });
  });
}
