// The BGP half of one VIPStatus pass (NodeSpeaker.writeVipStatus): which Established peers carry
// each Service IP. One peer carrying a host route per Service, as in issue 11 (one session).
// "before": every IP tested against every carried prefix with a string round trip per pair
// (aggregatePrefix, as the pass did up to this change); at 10,000 Services it takes minutes,
// so it is timed on a sample of SAMPLE IPs against all the prefixes and scaled up (linear in
// the IPs tested), and said so. "after": peersCarrying (src/speaker/bgp/carried.ts), timed whole.
// Medians of RUNS runs; the load average is printed, the machine may be shared.
//   npm run bench:vipstatus   (env VIPSTATUS_BENCH_RUNS, default 3)
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { formatIP } from '../src/api/net.ts';
import { peersCarrying, type CarriedRoutes } from '../src/speaker/bgp/carried.ts';
import { aggregatePrefix } from '../src/speaker/bgp/desired.ts';

const RUNS = Number(process.env.VIPSTATUS_BENCH_RUNS ?? 3);
const SIZES = [1_000, 10_000];
const SAMPLE = 200;
/** 198.18.0.0/15 (RFC 2544 benchmarking). */
const BASE = (198n << 24n) | (18n << 16n);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] as number;
}

/** The pass as it was: every (IP, peer, prefix) through a string round trip. */
function before(ips: readonly string[], carried: ReadonlyArray<{ peer: string; prefixes: string[] }>): number {
  let found = 0;
  for (const ip of ips) {
    for (const { prefixes } of carried) {
      const holds = prefixes.some((prefix) => {
        const length = Number(prefix.split('/')[1]);
        return aggregatePrefix(ip, { aggregationLength: length, aggregationLengthV6: length }) === prefix;
      });
      if (holds) found++;
    }
  }
  return found;
}

function time(run: () => number, expected: number): number {
  const start = performance.now();
  const found = run();
  const elapsed = performance.now() - start;
  if (found !== expected) throw new Error(`found ${found} carried IPs, expected ${expected}`);
  return elapsed;
}

process.stdout.write(`node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${RUNS} runs, median per pass\n`);
for (const size of SIZES) {
  const ips = Array.from({ length: size }, (_, i) => formatIP(4, BASE + BigInt(i)));
  const prefixes = ips.map((ip) => `${ip}/32`);
  const carried: CarriedRoutes[] = [{ peer: 'tor', prefixes: new Set(prefixes) }];
  // Spread over the whole range: the scan of IP i stops at prefix i, so the first IPs alone would be cheap.
  const sample = ips.filter((_, i) => i % Math.max(1, Math.floor(size / SAMPLE)) === 0);
  peersCarrying(ips, carried); // warm-up (JIT)
  const beforeMs = median(Array.from({ length: RUNS }, () => time(() => before(sample, [{ peer: 'tor', prefixes }]), sample.length))) * (size / sample.length);
  const afterMs = median(Array.from({ length: RUNS }, () => time(() => peersCarrying(ips, carried).size, size)));
  process.stdout.write(
    `${size} Services: before ${beforeMs.toFixed(0)} ms (${sample.length} IPs spread over the range timed, scaled ×${size / sample.length}), after ${afterMs.toFixed(1)} ms (all ${size} timed)\n`,
  );
}
