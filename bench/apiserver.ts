/**
 * Benchmark of the local API server (`npm run bench:apiserver`): sustained write
 * rate (creates, then updates) and watch fan-out latency with 50 watchers.
 * The server runs as its own process (`anchorlb local-apiserver`), so the client's
 * work is not counted against it; both share this machine's cores.
 * Prints medians over rounds; there is no peer to compare with here
 * (kube-apiserver cannot run on these machines), so figures are set against the targets.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROUNDS = 5;
const WRITES_PER_ROUND = 2000;
const CONCURRENCY = 32;
const WATCHERS = 50;
const FANOUT_EVENTS = 200;
const TARGET_WRITES_PER_SECOND = 2000;
const TARGET_P99_MS = 20;

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

function request(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(new URL(path, base), { method, agent, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as unknown) : undefined });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function expectStatus(promise: Promise<{ status: number; json: unknown }>, status: number): Promise<void> {
  const response = await promise;
  if (response.status !== status) throw new Error(`expected HTTP ${status}, got ${response.status}: ${JSON.stringify(response.json)}`);
}

/** Runs `count` operations with `CONCURRENCY` in flight; returns operations per second. */
async function rate(count: number, operation: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await operation(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

async function startServer(dataDir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/anchorlb.js'), 'local-apiserver', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  for await (const line of createInterface(child.stdout)) {
    const match = /^url: (\S+)$/.exec(line);
    if (match?.[1]) {
      const url = match[1];
      return {
        url,
        stop: () =>
          new Promise((resolve) => {
            child.on('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      };
    }
  }
  throw new Error('the local API server exited before printing its URL');
}

interface Watcher {
  close(): void;
}

/** Opens a watch and calls `onEvent` with the receive time and the object of each event. */
function openWatch(base: string, path: string, onEvent: (receivedAt: number, object: { data?: Record<string, string> }) => void): Promise<Watcher> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(path, base), (res) => {
      const lines = createInterface(res);
      // Closing the watch aborts the response; that is the expected end here.
      lines.on('error', () => undefined);
      lines.on('line', (line) => {
        const receivedAt = performance.now();
        const event = JSON.parse(line) as { type: string; object: { data?: Record<string, string> } };
        if (event.type === 'MODIFIED') onEvent(receivedAt, event.object);
      });
      resolve({ close: () => req.destroy() });
    });
    req.on('error', (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(error);
    });
  });
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'anchorlb-bench-apiserver-'));
  const server = await startServer(dataDir);
  const base = server.url;
  try {
    const createRates: number[] = [];
    const updateRates: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const namespace = `bench-${round}`;
      await expectStatus(request(base, 'POST', '/api/v1/namespaces', { metadata: { name: namespace } }), 201);
      const path = `/api/v1/namespaces/${namespace}/configmaps`;
      createRates.push(await rate(WRITES_PER_ROUND, (i) => expectStatus(request(base, 'POST', path, { metadata: { name: `cm-${i}`, labels: { bench: 'yes' } }, data: { n: '0' } }), 201)));
      updateRates.push(await rate(WRITES_PER_ROUND, (i) => expectStatus(request(base, 'PUT', `${path}/cm-${i}`, { metadata: { name: `cm-${i}` }, data: { n: '1' } }), 200)));
      // Drop the round's objects so every round starts from the same store size.
      await expectStatus(request(base, 'DELETE', `/api/v1/namespaces/${namespace}`), 200);
    }

    await expectStatus(request(base, 'POST', '/api/v1/namespaces', { metadata: { name: 'fanout' } }), 201);
    const path = '/api/v1/namespaces/fanout/configmaps';
    await expectStatus(request(base, 'POST', path, { metadata: { name: 'ticker' }, data: { sent: '0' } }), 201);
    const p50s: number[] = [];
    const p99s: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const list = (await request(base, 'GET', path)).json as { metadata: { resourceVersion: string } };
      const latencies: number[] = [];
      let received = 0;
      let done: () => void = () => undefined;
      const allReceived = new Promise<void>((resolve) => (done = resolve));
      const watchers = await Promise.all(
        Array.from({ length: WATCHERS }, () =>
          openWatch(base, `${path}?watch=true&resourceVersion=${list.metadata.resourceVersion}`, (receivedAt, object) => {
            latencies.push(receivedAt - Number(object.data?.sent));
            if (++received === WATCHERS * FANOUT_EVENTS) done();
          }),
        ),
      );
      // One write at a time, so each latency is a write's own fan-out, not queueing behind others.
      for (let i = 0; i < FANOUT_EVENTS; i++) {
        await expectStatus(request(base, 'PUT', `${path}/ticker`, { metadata: { name: 'ticker' }, data: { sent: String(performance.now()), i: `${round}-${i}` } }), 200);
      }
      await allReceived;
      for (const watcher of watchers) watcher.close();
      p50s.push(percentile(latencies, 50));
      p99s.push(percentile(latencies, 99));
    }

    const creates = median(createRates);
    const updates = median(updateRates);
    const p99 = median(p99s);
    process.stdout.write(
      [
        `local API server benchmark (${ROUNDS} rounds, medians; server in its own process, HTTP/1.1 keep-alive, ${CONCURRENCY} requests in flight)`,
        `  creates/s            ${creates.toFixed(0).padStart(8)}   (target >= ${TARGET_WRITES_PER_SECOND}: ratio ${(creates / TARGET_WRITES_PER_SECOND).toFixed(2)})`,
        `  updates/s            ${updates.toFixed(0).padStart(8)}   (target >= ${TARGET_WRITES_PER_SECOND}: ratio ${(updates / TARGET_WRITES_PER_SECOND).toFixed(2)})`,
        `  fan-out p50 (ms)     ${median(p50s).toFixed(2).padStart(8)}   (${WATCHERS} watchers, ${FANOUT_EVENTS} sequential writes, write sent -> event received)`,
        `  fan-out p99 (ms)     ${p99.toFixed(2).padStart(8)}   (target < ${TARGET_P99_MS}: ratio ${(p99 / TARGET_P99_MS).toFixed(2)})`,
        `  machine load average ${loadavg()[0]?.toFixed(1).padStart(8)}   (shared cores: tails grow with load)`,
        '',
      ].join('\n'),
    );
  } finally {
    await server.stop();
    agent.destroy();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
