// BGP table transfer into FRR: 100,000 IPv4 /32 and 100,000 IPv6 /128 on one session
// (IPv6 over MP-BGP on the IPv4 session), from
//   ours   — `anchorlb bgp-announce --prefix-file` in a node namespace,
//   BIRD   — the same prefixes as static routes (BIRD started cold),
//   gobgpd — the same prefixes injected from an MRT TABLE_DUMP_V2 file before the session is up,
// each into a freshly started FRR bgpd (-Z: the BGP RIB, no kernel FIB) in the router namespace.
// Time = the source reports the session Established (our speaker's event; `birdc show protocols`
// and `gobgp neighbor` polled every 5 ms) → FRR has every prefix of both families
// (`show bgp summary json` pfxRcd, polled every 50 ms). Also: session establishment time (process start →
// Established), and resident memory of the source once FRR has the whole table.
// Prefixes: RFC 2544's benchmarking range 198.18.0.0/15 (documentation ranges hold only 768
// IPv4 addresses) and 2001:db8::/32; everything stays inside the test-bed namespaces.
//   npm run bench:bgp   (env BGP_BENCH_RUNS, default 3; BGP_BENCH_COUNT, default 100000;
//                        BGP_BENCH_GOBGP_TIMEOUT_S, default 180; BGP_BENCH_GOBGP=0 to skip gobgpd)
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Testbed, waitFor, type FrrRouter, type Host } from '../test/support/testbed.ts';
import { Announcer } from '../test/e2e/bgp/announcer.ts';

const RUNS = Number(process.env.BGP_BENCH_RUNS ?? 3);
const COUNT = Number(process.env.BGP_BENCH_COUNT ?? 100_000);
const GOBGP_TIMEOUT_MS = Number(process.env.BGP_BENCH_GOBGP_TIMEOUT_S ?? 180) * 1000;
const WITH_GOBGP = process.env.BGP_BENCH_GOBGP !== '0';
const ROUTER_AS = 64512;
const SPEAKER_ENTRY = fileURLToPath(new URL('./bgp-announce-entry.ts', import.meta.url));
const SOURCE_AS = { ours: 65001, bird: 65002, gobgp: 65003 } as const;

function ipv4Host(i: number): string {
  const value = 198 * 2 ** 24 + 18 * 2 ** 16 + i; // 198.18.0.0 + i
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}
function ipv6Host(i: number): string {
  return `2001:db8:${(0x100 + (i >>> 16)).toString(16)}::${(i & 0xffff).toString(16)}`;
}
const V4 = Array.from({ length: COUNT }, (_, i) => `${ipv4Host(i)}/32`);
const V6 = Array.from({ length: COUNT }, (_, i) => `${ipv6Host(i)}/128`);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

async function rssMb(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN) / 1024;
}

interface Measurement {
  establishMs: number;
  transferMs: number;
  rssMb: number;
  complete: boolean;
  received: number;
}

/**
 * Waits for the session (as the source reports it: FRR's own view lags while it is busy
 * with the table), then for FRR to hold every prefix of both families.
 */
async function measure(frr: FrrRouter, peer: string, startedAt: number, established: () => Promise<number>, sourcePid: () => number | undefined, timeoutMs: number, expected = 2 * COUNT): Promise<Measurement> {
  const establishedAt = await established();
  let received = 0;
  let complete = true;
  try {
    await waitFor(
      `${expected} prefixes from ${peer}`,
      async () => {
        const peerSummary = (await frr.summary())[peer];
        received = (peerSummary?.ipv4?.pfxRcd ?? 0) + (peerSummary?.ipv6?.pfxRcd ?? 0);
        return received === expected;
      },
      timeoutMs,
      50,
    );
  } catch {
    complete = false;
  }
  return { establishMs: establishedAt - startedAt, transferMs: Date.now() - establishedAt, rssMb: await rssMb(sourcePid()), complete, received };
}

async function freshFrr(tb: Testbed, source: Host, asn: number): Promise<FrrRouter> {
  return tb.startFrr(tb.router.ns, { asn: ROUTER_AS, routerId: tb.router.ipv4, zebra: false, neighbors: [{ address: source.ipv4, asn, families: ['ipv4', 'ipv6'] }] });
}

async function runOurs(tb: Testbed, host: Host, prefixFile: string, expected = 2 * COUNT): Promise<Measurement> {
  const frr = await freshFrr(tb, host, SOURCE_AS.ours);
  const startedAt = Date.now();
  const ours = await Announcer.start(tb, host, ['--peer', tb.router.ipv4, '--peer-as', String(ROUTER_AS), '--local-as', String(SOURCE_AS.ours), '--prefix-file', prefixFile], SPEAKER_ENTRY);
  try {
    const established = async (): Promise<number> => Number((await ours.established(60_000)).time);
    return await measure(frr, host.ipv4, startedAt, established, () => ours.child.pid, 300_000, expected);
  } finally {
    await ours.kill();
    await frr.stop();
  }
}

async function runBird(tb: Testbed, host: Host): Promise<Measurement> {
  const frr = await freshFrr(tb, host, SOURCE_AS.bird);
  const startedAt = Date.now();
  const bird = await tb.startBird(host.ns, {
    asn: SOURCE_AS.bird,
    routerId: host.ipv4,
    nextHop6: host.ipv6,
    staticRoutes: [...V4, ...V6],
    neighbors: [{ address: tb.router.ipv4, asn: ROUTER_AS, families: ['ipv4', 'ipv6'] }],
  });
  try {
    const established = async (): Promise<number> => {
      await waitFor('BIRD session Established', async () => (await bird.birdc('show protocols peer1')).includes('Established'), 60_000, 5);
      return Date.now();
    };
    return await measure(frr, host.ipv4, startedAt, established, () => bird.bird.pid, 300_000);
  } finally {
    await tb.kill(bird.bird);
    await frr.stop();
  }
}

/** An MRT TABLE_DUMP_V2 file (RFC 6396): one peer, one RIB entry per prefix. */
function mrtTable(nextHop4: string, nextHop6: string, asn: number): Buffer {
  const record = (subtype: number, body: Buffer): Buffer => {
    const header = Buffer.alloc(12);
    header.writeUInt32BE(Math.floor(Date.now() / 1000), 0);
    header.writeUInt16BE(13, 4); // TABLE_DUMP_V2
    header.writeUInt16BE(subtype, 6);
    header.writeUInt32BE(body.length, 8);
    return Buffer.concat([header, body]);
  };
  const v4 = (address: string): Buffer => Buffer.from(address.split('.').map(Number));
  const v6 = (address: string): Buffer => {
    const [head = '', tail = ''] = address.split('::');
    const words = (part: string): number[] => (part === '' ? [] : part.split(':').map((w) => parseInt(w, 16)));
    const h = words(head);
    const t = words(tail);
    const all = [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
    const bytes = Buffer.alloc(16);
    all.forEach((w, i) => bytes.writeUInt16BE(w, i * 2));
    return bytes;
  };
  // PEER_INDEX_TABLE: collector id, empty view name, one IPv4 peer with a 4-octet AS.
  const peer = Buffer.concat([Buffer.from([0x02]), v4(nextHop4), v4(nextHop4), Buffer.alloc(4)]);
  peer.writeUInt32BE(asn, 9);
  const parts = [record(1, Buffer.concat([v4(nextHop4), Buffer.from([0, 0, 0, 1]), peer]))];
  const asPath = Buffer.from([0x40, 2, 6, 2, 1, 0, 0, 0, 0]);
  asPath.writeUInt32BE(asn, 5);
  const origin = Buffer.from([0x40, 1, 1, 0]);
  const attrs4 = Buffer.concat([origin, asPath, Buffer.from([0x40, 3, 4]), v4(nextHop4)]);
  // RFC 6396 §4.3.4 abbreviates MP_REACH_NLRI to the next hop; gobgp reads the full form
  // (AFI 2, SAFI 1, next hop, reserved octet, no NLRI: the prefix is the entry's).
  const attrs6 = Buffer.concat([origin, asPath, Buffer.from([0x80, 14, 21, 0, 2, 1, 16]), v6(nextHop6), Buffer.from([0])]);
  const entry = (sequence: number, length: number, prefixBytes: Buffer, attrs: Buffer, subtype: number): Buffer => {
    const head = Buffer.alloc(5);
    head.writeUInt32BE(sequence, 0);
    head.writeUInt8(length, 4);
    const tail = Buffer.alloc(10);
    tail.writeUInt16BE(1, 0); // one entry
    tail.writeUInt16BE(0, 2); // peer index
    tail.writeUInt32BE(Math.floor(Date.now() / 1000), 4);
    tail.writeUInt16BE(attrs.length, 8);
    return record(subtype, Buffer.concat([head, prefixBytes, tail, attrs]));
  };
  let sequence = 0;
  for (const p of V4) parts.push(entry(sequence++, 32, v4(p.split('/')[0] ?? ''), attrs4, 2));
  for (const p of V6) parts.push(entry(sequence++, 128, v6(p.split('/')[0] ?? ''), attrs6, 4));
  return Buffer.concat(parts);
}

async function runGobgp(tb: Testbed, host: Host, mrtFile: string): Promise<Measurement> {
  const frr = await freshFrr(tb, host, SOURCE_AS.gobgp);
  const startedAt = Date.now();
  const gobgp = await tb.startGobgp(host.ns, { asn: SOURCE_AS.gobgp, routerId: host.ipv4, listen: false, neighbors: [{ address: tb.router.ipv4, asn: ROUTER_AS, families: ['ipv4', 'ipv6'] }] });
  // Injected before gobgpd's first connection (it waits 5–9 s before connecting out).
  await gobgp.gobgp(['mrt', 'inject', 'global', mrtFile]);
  try {
    const established = async (): Promise<number> => {
      await waitFor('gobgpd session Established', async () => ['6', 'established'].includes((await gobgp.neighbors()).get(tb.router.ipv4) ?? ''), 60_000, 5);
      return Date.now();
    };
    return await measure(frr, host.ipv4, startedAt, established, () => gobgp.gobgpd.pid, GOBGP_TIMEOUT_MS);
  } finally {
    await tb.kill(gobgp.gobgpd);
    await frr.stop();
  }
}

function describe(label: string, runs: Measurement[]): string {
  const done = runs.filter((r) => r.complete);
  const transfer = done.length === runs.length ? `${(median(runs.map((r) => r.transferMs)) / 1000).toFixed(2)} s` : `> ${(Math.max(...runs.map((r) => r.transferMs)) / 1000).toFixed(0)} s (FRR had ${Math.max(...runs.map((r) => r.received))} of ${2 * COUNT})`;
  return `${label.padEnd(7)} table transfer ${transfer}  (runs: ${runs.map((r) => (r.transferMs / 1000).toFixed(2)).join(', ')})  established after ${median(runs.map((r) => r.establishMs))} ms  RSS ${median(runs.map((r) => r.rssMb)).toFixed(0)} MB`;
}

async function main(): Promise<void> {
  const tb = await Testbed.create({ nodes: 3 });
  try {
    const [oursHost, birdHost, gobgpHost] = tb.nodes as [Host, Host, Host];
    const prefixFile = join(tb.stateDir, 'prefixes.txt');
    await writeFile(prefixFile, [...V4, ...V6].join('\n'));
    const ours: Measurement[] = [];
    const bird: Measurement[] = [];
    for (let run = 0; run < RUNS; run++) {
      ours.push(await runOurs(tb, oursHost, prefixFile));
      bird.push(await runBird(tb, birdHost));
      process.stderr.write(`run ${run + 1}/${RUNS}: ours ${ours.at(-1)?.transferMs} ms, BIRD ${bird.at(-1)?.transferMs} ms\n`);
    }
    const lines = [`BGP table transfer into FRR bgpd: ${COUNT} IPv4 /32 + ${COUNT} IPv6 /128, one session, medians of ${RUNS}`, describe('ours', ours), describe('BIRD', bird)];
    const oursMedian = median(ours.map((r) => r.transferMs));
    lines.push(`ratio ours/BIRD: ${(oursMedian / median(bird.map((r) => r.transferMs))).toFixed(2)}x (target <= 1.0x)`);
    if (WITH_GOBGP) {
      const mrtFile = join(tb.stateDir, 'table.mrt');
      await writeFile(mrtFile, mrtTable(gobgpHost.ipv4, gobgpHost.ipv6, SOURCE_AS.gobgp));
      const gobgp = [await runGobgp(tb, gobgpHost, mrtFile)];
      lines.push(describe('gobgpd', gobgp));
      lines.push(`ratio ours/gobgpd: ${gobgp[0]?.complete ? '' : '< '}${(oursMedian / (gobgp[0]?.transferMs ?? Number.NaN)).toFixed(3)}x (one run)`);
    }
    const ipv4Only = join(tb.stateDir, 'prefixes4.txt');
    await writeFile(ipv4Only, V4.join('\n'));
    const rss4 = await runOurs(tb, oursHost, ipv4Only, COUNT);
    lines.push(`our RSS once FRR has the table: ${median(ours.map((r) => r.rssMb)).toFixed(0)} MB with ${2 * COUNT} routes, ${rss4.rssMb.toFixed(0)} MB with ${COUNT} IPv4 routes (target < 150 MB at 100k routes)`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await tb.destroy();
  }
}

await main();
