import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { defaultBindStateFile, type Binding } from '../../../src/speaker/bind.ts';
import { Testbed } from '../../support/testbed.ts';
import type { DriverStep } from './driver.ts';

const DRIVER = fileURLToPath(new URL('./driver.ts', import.meta.url));

/** A speaker process's bindings, one step at a time. */
class BindingsProcess {
  private readonly replies: string[] = [];
  private waiting: ((line: string) => void) | undefined;
  constructor(readonly child: ChildProcess) {
    if (!child.stdout) throw new Error('driver has no stdout pipe');
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (this.waiting) {
        this.waiting(line);
        this.waiting = undefined;
      } else this.replies.push(line);
    });
  }

  async step(step: DriverStep): Promise<unknown> {
    const reply = new Promise<string>((resolve, reject) => {
      const queued = this.replies.shift();
      if (queued !== undefined) return resolve(queued);
      this.waiting = resolve;
      this.child.once('exit', (code, signal) => reject(new Error(`driver exited (${code ?? signal}) before answering ${JSON.stringify(step)}`)));
    });
    this.child.stdin?.write(`${JSON.stringify(step)}\n`);
    const answer = JSON.parse(await reply) as { ok: boolean; result?: unknown; error?: string };
    if (!answer.ok) throw new Error(`${JSON.stringify(step)}: ${answer.error}`);
    return answer.result;
  }
}

describe('speaker/bind e2e: a restarted speaker removes what its killed predecessor bound, never the admin\'s addresses', function () {
  this.timeout(120_000);
  let testbed: Testbed | undefined;
  let ns = '';
  let stateFile = '';

  before(async () => {
    testbed = await Testbed.create({ nodes: 1 });
    ns = testbed.nodes[0]!.ns;
    stateFile = join(testbed.stateDir, 'anchorlb', 'bound-node1.json');
  });
  after(async () => {
    await testbed?.destroy();
  });

  const start = async (): Promise<BindingsProcess> => {
    const speaker = new BindingsProcess(await testbed!.spawn(ns, [process.execPath, '--import', 'tsx', DRIVER], { pipe: true }));
    return speaker;
  };
  const addresses = async (iface: string): Promise<string[]> => {
    const result = await testbed!.exec(ns, ['ip', '-j', 'addr', 'show', 'dev', iface], { allowFailure: true });
    if (result.code !== 0) return [];
    const links = JSON.parse(result.stdout) as Array<{ addr_info?: Array<{ local: string }> }>;
    return links.flatMap((link) => (link.addr_info ?? []).map((info) => info.local));
  };
  const bind = (speaker: BindingsProcess, address: string, iface = 'lo') => speaker.step({ op: 'bind', address, iface });
  const unbind = (speaker: BindingsProcess, address: string, iface = 'lo') => speaker.step({ op: 'unbind', address, iface });

  it('bind, SIGKILL, restart with a desired state without the IPs: they are gone; the admin\'s and the still wanted stay', async () => {
    // The admin's own addresses, before any speaker runs.
    await testbed!.exec(ns, ['ip', 'addr', 'add', '192.0.2.77/32', 'dev', 'lo']);
    await testbed!.exec(ns, ['ip', 'addr', 'add', '2001:db8:77::1/128', 'dev', 'lo']);

    const first = await start();
    expect(await first.step({ op: 'init', stateFile, nodeName: 'node1' })).to.deep.equal([]);
    for (const address of ['192.0.2.200', '2001:db8:200::1', '192.0.2.201', '192.0.2.77', '2001:db8:77::1']) await bind(first, address);
    await bind(first, '198.51.100.210', testbed!.iface);
    expect(await addresses('lo')).to.include.members(['192.0.2.200', '2001:db8:200::1', '192.0.2.201', '192.0.2.77', '2001:db8:77::1']);
    expect(await addresses(testbed!.iface)).to.include('198.51.100.210');

    await testbed!.kill(first.child);
    // The bug this fixes: the crash leaves them all on the node.
    expect(await addresses('lo')).to.include.members(['192.0.2.200', '2001:db8:200::1', '192.0.2.201']);

    const second = await start();
    const leftovers = (await second.step({ op: 'init', stateFile, nodeName: 'node1' })) as Binding[];
    expect(leftovers).to.have.deep.members([
      { address: '192.0.2.200', iface: 'lo' },
      { address: '2001:db8:200::1', iface: 'lo' },
      { address: '192.0.2.201', iface: 'lo' },
      { address: '198.51.100.210', iface: testbed!.iface },
    ]);
    const removed = await second.step({ op: 'releaseLeftovers', wanted: [{ address: '192.0.2.201', iface: 'lo' }] });
    expect(removed).to.have.deep.members([
      { address: '192.0.2.200', iface: 'lo' },
      { address: '2001:db8:200::1', iface: 'lo' },
      { address: '198.51.100.210', iface: testbed!.iface },
    ]);
    const lo = await addresses('lo');
    expect(lo).to.not.include('192.0.2.200');
    expect(lo).to.not.include('2001:db8:200::1');
    expect(lo).to.include.members(['192.0.2.201', '192.0.2.77', '2001:db8:77::1']);
    expect(await addresses(testbed!.iface)).to.not.include('198.51.100.210');

    // The still wanted leftover is adopted: taken up again without a gap, removed when released.
    await bind(second, '192.0.2.201');
    await unbind(second, '192.0.2.201');
    expect(await addresses('lo')).to.not.include('192.0.2.201');

    // The admin's address, even when an announcer held and released it in this run too.
    await bind(second, '192.0.2.77');
    await unbind(second, '192.0.2.77');
    await second.step({ op: 'releaseLeftovers', wanted: [] });
    expect(await addresses('lo')).to.include.members(['192.0.2.77', '2001:db8:77::1']);
    await testbed!.kill(second.child);

    const third = await start();
    expect(await third.step({ op: 'init', stateFile, nodeName: 'node1' }), 'nothing left recorded').to.deep.equal([]);
    expect(await addresses('lo')).to.include.members(['192.0.2.77', '2001:db8:77::1']);
    await testbed!.kill(third.child);
  });

  it('the default record of a node name is another file in another network namespace (test clusters on one host do not share it)', async () => {
    const speaker = await start();
    const inside = await speaker.step({ op: 'defaultStateFile', nodeName: 'node1' });
    expect(inside).to.be.a('string').and.not.equal(defaultBindStateFile('node1'));
    await testbed!.kill(speaker.child);
  });

  it('a record that cannot be written: the address is not added, the error names the record; added once it can be written', async () => {
    // A directory where the file should be: not writable, even for root.
    const blocked = join(testbed!.stateDir, 'anchorlb', 'blocked-node1.json');
    await mkdir(blocked, { recursive: true });
    const speaker = await start();
    try {
      await speaker.step({ op: 'init', stateFile: blocked, nodeName: 'node1' });
      let refused: Error | undefined;
      await bind(speaker, '192.0.2.210').catch((error: Error) => (refused = error));
      expect(refused?.message).to.contain('192.0.2.210 not added to lo').and.contain(`cannot record the bound addresses in ${blocked}`);
      expect(await addresses('lo')).to.not.include('192.0.2.210');

      await rm(blocked, { recursive: true });
      await bind(speaker, '192.0.2.210');
      expect(await addresses('lo')).to.include('192.0.2.210');
      expect(await readFile(blocked, 'utf8')).to.contain('192.0.2.210');
      await unbind(speaker, '192.0.2.210');
      expect(await addresses('lo')).to.not.include('192.0.2.210');
    } finally {
      await testbed!.kill(speaker.child);
      await rm(blocked, { recursive: true, force: true });
    }
  });

  it('L2 and BGP holding the same address: one releasing it leaves it for the other', async () => {
    const speaker = await start();
    await speaker.step({ op: 'init', stateFile, nodeName: 'node1' });
    await bind(speaker, '203.0.113.5');
    await bind(speaker, '203.0.113.5');
    await unbind(speaker, '203.0.113.5');
    expect(await addresses('lo')).to.include('203.0.113.5');
    expect(await readFile(stateFile, 'utf8')).to.contain('203.0.113.5');
    await unbind(speaker, '203.0.113.5');
    expect(await addresses('lo')).to.not.include('203.0.113.5');
    expect(existsSync(stateFile), 'nothing bound, no record').to.equal(false);
    await testbed!.kill(speaker.child);
  });
});
