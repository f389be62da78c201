// A bad command line gets the same answer from every long-running command: one line on stderr,
// `anchorlb CMD: --flag: why`, exit status 2, before anything is started.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from '../../support/apiserver.ts';

function anchorlb(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/anchorlb.js'), ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

describe('anchorlb daemons: a bad flag', function () {
  this.timeout(120_000);

  const cases: Array<[string[], string]> = [
    [['controller', '--metrics-port', '70000'], 'anchorlb controller: --metrics-port: expected an integer from 0 to 65535, got "70000"\n'],
    [['operator', '--metrics-port', '70000'], 'anchorlb operator: --metrics-port: expected an integer from 0 to 65535, got "70000"\n'],
    [['speaker', '--node-name', 'node1', '--metrics-port', '70000'], 'anchorlb speaker: --metrics-port: expected an integer from 0 to 65535, got "70000"\n'],
    [['controller', '--kubeconfig', '/nonexistent/kubeconfig'], "anchorlb controller: --kubeconfig: \"/nonexistent/kubeconfig\": ENOENT: no such file or directory, open '/nonexistent/kubeconfig'\n"],
    [['controller', '--no-such-flag'], "anchorlb controller: unknown option '--no-such-flag'\n"],
    [['operator', '--no-such-flag'], "anchorlb operator: unknown option '--no-such-flag'\n"],
    [['speaker', '--no-such-flag'], "anchorlb speaker: unknown option '--no-such-flag'\n"],
  ];

  let results: Array<{ code: number | null; stderr: string }> = [];
  before(async () => {
    results = [];
    // One at a time: each start loads the TypeScript sources.
    for (const [args] of cases) results.push(await anchorlb(args));
  });

  cases.forEach(([args, line], index) => {
    it(`anchorlb ${args.join(' ')}: exit 2, one line`, () => {
      expect(results[index]).to.deep.equal({ code: 2, stderr: line });
    });
  });
});
