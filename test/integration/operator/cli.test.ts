/** Bad input to `anchorlb operator` gets an error naming the flag and the value, never a stack trace. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from '../../support/apiserver.ts';

function runOperator(args: string[]): Promise<{ code: number; stderr: string }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/anchorlb.js'), 'operator', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

describe('anchorlb operator command line', function () {
  this.timeout(30_000);

  it('refuses a metrics port that is not one', async () => {
    const result = await runOperator(['--metrics-port', '70000']);
    expect([result.code, result.stderr]).to.deep.equal([2, 'anchorlb operator: --metrics-port: expected an integer from 0 to 65535, got "70000"\n']);
  });

  it('names the RBAC directory it cannot read, and the kubeconfig it cannot load', async () => {
    const rbac = await runOperator(['--rbac-dir', '/nonexistent-anchorlb']);
    expect([rbac.code, rbac.stderr]).to.deep.equal([2, "anchorlb operator: --rbac-dir /nonexistent-anchorlb: ENOENT: no such file or directory, open '/nonexistent-anchorlb/controller.yaml'\n"]);
    const kubeconfig = await runOperator(['--kubeconfig', '/nonexistent-anchorlb.yaml']);
    expect(kubeconfig.code).to.equal(2);
    expect(kubeconfig.stderr).to.match(/^anchorlb operator: --kubeconfig \/nonexistent-anchorlb\.yaml: .*ENOENT/);
  });
});
