/**
 * BGP codec throughput: 100,000 IPv4 /32 and 100,000 IPv6 /128 packed into UPDATEs, the
 * resulting byte stream framed and decoded again, and the same prefixes withdrawn.
 * Prints the median of several runs. Run: npm run bench:bgp-codec [-- runs]
 */
import { buildUpdates, buildWithdraws, decodeMessage, MessageFramer, parsePrefix } from '../src/bgp/codec/index.ts';
import type { CodecOptions, Prefix } from '../src/bgp/codec/index.ts';

const COUNT = 100_000;
const RUNS = Number(process.argv[2] ?? 7);
const OPTS: CodecOptions = { fourOctetAs: true, extendedMessages: false, ebgp: true };
const ATTRIBUTES = {
  origin: 0 as const,
  asPath: [{ type: 'sequence' as const, asns: [4200000001] }],
  nextHop: '192.0.2.11',
  communities: [0xfde90064],
};

function hosts(base: string, count: number): Prefix[] {
  const first = parsePrefix(base);
  return Array.from({ length: count }, (_, i) => ({ ...first, address: first.address + BigInt(i) }));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function time<T>(run: () => T): { result: T; ms: number[] } {
  const ms: number[] = [];
  let result: T | undefined;
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint();
    result = run();
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { result: result as T, ms };
}

function decodeStream(messages: Buffer[]): number {
  const framer = new MessageFramer();
  let prefixes = 0;
  // Cut into 64 KiB chunks, as a socket would deliver them.
  const stream = Buffer.concat(messages);
  for (let at = 0; at < stream.length; at += 65536) {
    for (const bytes of framer.push(stream.subarray(at, at + 65536)).messages) {
      const result = decodeMessage(bytes, OPTS);
      if (!result.ok || result.message.type !== 'update') throw new Error('bench stream did not decode');
      prefixes += result.message.nlri.length + result.message.withdrawn.length
        + (result.message.attributes.mpReach?.nlri.length ?? 0) + (result.message.attributes.mpUnreach?.withdrawn.length ?? 0);
    }
  }
  return prefixes;
}

const ipv4 = hosts('198.51.100.0/32', COUNT);
const ipv6 = hosts('2001:db8:1::/128', COUNT);
const rows: string[] = [];
const report = (name: string, ms: number[], detail: string): void => {
  const m = median(ms);
  rows.push(`${name.padEnd(34)} median ${m.toFixed(1).padStart(7)} ms  (${Math.round((COUNT / m) * 1000).toLocaleString('en')} prefixes/s)  ${detail}`);
};

const encode4 = time(() => buildUpdates({ attributes: ATTRIBUTES, prefixes: ipv4 }, OPTS));
report('encode 100k IPv4 /32 (UPDATEs)', encode4.ms, `${encode4.result.length} UPDATEs, ${encode4.result.reduce((s, m) => s + m.length, 0)} octets`);
const encode6 = time(() => buildUpdates({ attributes: ATTRIBUTES, ipv6NextHops: ['2001:db8::11'], prefixes: ipv6 }, OPTS));
report('encode 100k IPv6 /128 (MP_REACH)', encode6.ms, `${encode6.result.length} UPDATEs, ${encode6.result.reduce((s, m) => s + m.length, 0)} octets`);
const decode4 = time(() => decodeStream(encode4.result));
report('frame + decode 100k IPv4', decode4.ms, `${decode4.result} prefixes seen`);
const decode6 = time(() => decodeStream(encode6.result));
report('frame + decode 100k IPv6', decode6.ms, `${decode6.result} prefixes seen`);
const withdraw = time(() => buildWithdraws([...ipv4, ...ipv6], OPTS));
rows.push(`${'withdraw 100k IPv4 + 100k IPv6'.padEnd(34)} median ${median(withdraw.ms).toFixed(1).padStart(7)} ms  ${withdraw.result.length} UPDATEs`);

console.log(`bgp codec bench (${RUNS} runs each, Node ${process.version})`);
for (const row of rows) console.log(`  ${row}`);
console.log(`  resident memory after the runs: ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB`);
