// The fuzz loop in a worker thread (run.ts): a decoder that loops forever blocks this thread
// only, and the watchdog in the main thread ends it and names the input.
import { parentPort, workerData } from 'node:worker_threads';
import { fuzzDecoder } from './fuzz.ts';

const { inputs, seed, progress, current } = workerData as { inputs: number; seed: number; progress: SharedArrayBuffer; current: SharedArrayBuffer };
const counter = new Int32Array(progress);
const bytes = new Uint8Array(current);
const report = fuzzDecoder(inputs, seed, (index, input) => {
  // Length first at [1], then the bytes: the watchdog reads them only once this input stalls.
  Atomics.store(counter, 1, Math.min(input.length, bytes.length));
  bytes.set(input.subarray(0, bytes.length));
  Atomics.store(counter, 0, index + 1);
});
parentPort?.postMessage(report);
