// One speaker's bindings, run inside a node namespace by bind.test.ts: reads one JSON step a line
// on stdin, runs it through src/speaker/bind.ts, answers one JSON line. Killing it mid-way is the
// crash under test: the in-memory ledger is lost, only the state file and the kernel remain.
import { createInterface } from 'node:readline';
import { createLogger } from '../../../src/common/log.ts';
import { bindAddress, bindings, defaultBindStateFile, unbindAddress, type Binding } from '../../../src/speaker/bind.ts';

export type DriverStep =
  | { op: 'init'; stateFile: string; nodeName: string }
  | { op: 'bind'; address: string; iface: string }
  | { op: 'unbind'; address: string; iface: string }
  | { op: 'releaseLeftovers'; wanted: Binding[] }
  | { op: 'defaultStateFile'; nodeName: string };

const logger = createLogger('bind-driver', 'silent');

async function run(step: DriverStep): Promise<unknown> {
  switch (step.op) {
    case 'init':
      return bindings.init({ stateFile: step.stateFile, nodeName: step.nodeName, logger });
    case 'bind':
      return bindAddress(step.address, step.iface);
    case 'unbind':
      return unbindAddress(step.address, step.iface);
    case 'releaseLeftovers':
      return bindings.releaseLeftovers(step.wanted);
    case 'defaultStateFile':
      return defaultBindStateFile(step.nodeName);
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  try {
    const result = await run(JSON.parse(line) as DriverStep);
    process.stdout.write(`${JSON.stringify({ ok: true, result: result ?? null })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: error instanceof Error ? error.message : String(error) })}\n`);
  }
}
