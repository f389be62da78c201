// ARP reply latency: our responder (native addon + frames.ts, in Node) against the Linux kernel
// answering for its own address, in the same run and on the same namespaces.
// `arping` in the client namespace times each request → reply; we print medians and the ratio
// (target: ours ≤ 2× the kernel). iputils arping only knows whole-second intervals, so each
// sample is its own `arping -c 1` (the time is arping's own request → reply measurement, not
// the process start). Samples alternate between the two targets so machine noise falls on
// both alike.   npm run bench:arp   (env ARP_BENCH_COUNT: samples per target, default 200)
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { Testbed } from '../test/support/testbed.ts';

const COUNT = Number(process.env.ARP_BENCH_COUNT ?? 200);
const VIP = '192.0.2.100';
const RESPONDER = fileURLToPath(new URL('../test/e2e/native/fixtures/responder.ts', import.meta.url));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Per-reply round-trip times in ms from `arping` output ("Unicast reply from IP [MAC]  0.546ms"). */
export function parseArpingTimes(output: string): number[] {
  return [...output.matchAll(/reply from \S+ \[[0-9A-Fa-f:]+\]\s+([\d.]+)\s*ms/g)].map((match) => Number(match[1]));
}

async function waitReady(child: ChildProcess): Promise<void> {
  if (!child.stdout) throw new Error('responder has no stdout');
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    if (line.includes('"ready":true')) return;
    if (line.includes('"error"')) throw new Error(`responder: ${line}`);
  }
  throw new Error('responder exited before it was ready');
}

async function main(): Promise<void> {
  const testbed = await Testbed.create({ nodes: 1, client: true, prefix: `arpb${process.pid.toString(36).slice(-5)}` });
  try {
    const node = testbed.nodes[0]!;
    const client = testbed.client!;
    const responder = await testbed.spawn(node.ns, [process.execPath, '--import', 'tsx', RESPONDER, testbed.iface, VIP], { pipe: true, env: { ...process.env, RESPONDER_QUIET: '1' } });
    await waitReady(responder);
    const arping = async (target: string): Promise<number[]> => {
      const { stdout } = await testbed.exec(client.ns, ['arping', '-c', '1', '-w', '2', '-I', testbed.iface, target], { allowFailure: true });
      return parseArpingTimes(stdout);
    };
    for (let i = 0; i < 10; i++) await arping(VIP); // warm-up: JIT, caches
    const ours: number[] = [];
    const kernel: number[] = [];
    for (let i = 0; i < COUNT; i++) {
      ours.push(...(await arping(VIP)));
      kernel.push(...(await arping(node.ipv4)));
    }
    if (ours.length === 0 || kernel.length === 0) throw new Error('arping reported no replies');
    const ratio = median(ours) / median(kernel);
    console.log(`ARP reply latency, ${COUNT} alternating samples per target (arping -c 1, veth + bridge, ms)`);
    console.log(`  anchorlb responder  n=${ours.length}  median ${median(ours).toFixed(3)}  p90 ${percentile(ours, 90).toFixed(3)}`);
    console.log(`  kernel (own addr)   n=${kernel.length}  median ${median(kernel).toFixed(3)}  p90 ${percentile(kernel, 90).toFixed(3)}`);
    console.log(`  ratio anchorlb/kernel (medians): ${ratio.toFixed(2)}x  (target <= 2x: ${ratio <= 2 ? 'met' : 'NOT met'})`);
  } finally {
    await testbed.destroy();
  }
}

await main();
