// `anchorlb speaker` with a bad flag: one line naming the flag and the value, exit 2, before
// it touches the API server or the network (a bad --metrics-port and a missing --kubeconfig
// file used to end in a stack trace).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from '../../support/apiserver.ts';

function speaker(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/anchorlb.js'), 'speaker', ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

describe('anchorlb speaker: bad flags', function () {
  this.timeout(60_000);

  const cases: Array<[string, string[], string]> = [
    ['no node name', [], 'anchorlb speaker: --node-name: not set (nor NODE_NAME)\n'],
    ['a metrics port that is not a number', ['--node-name', 'node1', '--metrics-port', 'abc'], 'anchorlb speaker: --metrics-port: expected an integer from 0 to 65535, got "abc"\n'],
    ['a metrics port out of range', ['--node-name', 'node1', '--metrics-port', '70000'], 'anchorlb speaker: --metrics-port: expected an integer from 0 to 65535, got "70000"\n'],
    ['a kubeconfig file that does not exist', ['--node-name', 'node1', '--kubeconfig', '/nonexistent/kubeconfig'], "anchorlb speaker: --kubeconfig: \"/nonexistent/kubeconfig\": ENOENT: no such file or directory, open '/nonexistent/kubeconfig'\n"],
  ];

  let results: Array<{ code: number | null; stderr: string }> = [];
  before(async () => {
    results = await Promise.all(cases.map(([, args]) => speaker(args)));
  });

  cases.forEach(([what, , message], index) => {
    it(`${what}: exit 2 with one line naming the flag and value`, () => {
      expect(results[index]).to.deep.equal({ code: 2, stderr: message });
    });
  });
});
