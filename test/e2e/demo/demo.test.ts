// `make demo` as a test: scripts/demo.ts runs to the end and exits 0, which it does only when
// what it showed happened (it checks each step itself and exits 1 otherwise); and what it
// shows is what a user should see: one node answering ARP for the Service IP, the router
// holding one BGP path per node in its FIB, VIPStatus objects, another node taking over after
// the owner node fails (a real outage, then a recovery), and nothing of the run left behind.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from '../../support/apiserver.ts';
import { run } from '../../support/testbed.ts';

describe('make demo', function () {
  this.timeout(300_000);
  const prefix = `dm${Date.now().toString(36).slice(-6)}`;
  let output = '';
  let code: number | null = null;

  before(async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts/demo.ts'), '--prefix', prefix], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  });

  it('runs to the end with every step available', () => {
    expect(code, output).to.equal(0);
    expect(output).to.match(/demo done\n$/);
  });

  it('shows exactly one node answering ARP for the Service IP, and the client reaching it', () => {
    expect(output).to.match(/192\.0\.2\.2\d\d is at [0-9a-f:]{17} \(node\d\)\n/);
    expect(output).to.match(/client: ping 192\.0\.2\.2\d\d: 3\/3 answered/);
  });

  it('shows the router with one BGP path per node, installed as an ECMP route', () => {
    expect(output).to.match(/3 valid paths via 192\.0\.2\.11, 192\.0\.2\.12, 192\.0\.2\.13/);
    expect(output.match(/nexthop via 192\.0\.2\.1[123] /g)).to.have.length(3);
  });

  it('lists VIPStatus objects for BGP on every node and for L2 on the owner', () => {
    expect(output.match(/web-192\.0\.2\.2\d\d-node\d-bgp/g)).to.have.length(3);
    expect(output).to.match(/web-192\.0\.2\.2\d\d-(node\d)-l2 /);
  });

  it('shows another node taking over after the owner node fails, a real outage and recovery, and the agent restarting the speaker', () => {
    const killed = /failover: (node\d) fails: SIGKILL to its speaker/.exec(output)?.[1];
    const successor = /failover: (node\d) took over/.exec(output)?.[1];
    expect(killed).to.be.a('string');
    expect(successor).to.be.a('string').and.not.equal(killed);
    // The figure measures a failover: the client lost pings (the old owner stopped answering), then was answered again.
    const [, takeoverMs, gapMs, lost] = /took over \S+ (\d+) ms after the failure .*longest gap (\d+) ms, (\d+) of \d+ lost/.exec(output) ?? [];
    expect(Number(takeoverMs), 'takeover').to.be.below(3_000);
    expect(Number(gapMs), 'longest gap').to.be.at.least(300);
    expect(Number(lost), 'pings lost').to.be.above(0);
    expect(output).to.include(`restarted the speaker on ${killed} (restarts: 1)`);
    expect(output).to.match(/after the restart: one node answers ARP for \S+ and only it holds \S+ on lo \(node\d\)/);
    expect(output).to.not.include('PROBLEM:');
  });

  it('leaves no namespace or state behind', async () => {
    const namespaces = (await run(['ip', 'netns', 'list'])).stdout;
    expect(namespaces).to.not.include(`${prefix}-`);
    expect(existsSync(join('/run/anchorlb-demo', prefix))).to.equal(false);
    expect(existsSync(join('/run/anchorlb-testbed', prefix))).to.equal(false);
  });
});
