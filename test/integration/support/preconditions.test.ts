// The suite's own rule: outside CI a missing precondition is a visible skip; in CI (CI=true)
// it is a failure naming what is missing, and so is any other skipped test. Runs mocha with
// the project's .mocharc.cjs on two fixture files, as `make test` would.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from '../../support/apiserver.ts';

async function mocha(fixture: string, ci: boolean): Promise<{ code: number | null; output: string }> {
  const env = { ...process.env };
  delete env.CI;
  if (ci) env.CI = 'true';
  const child = spawn(process.execPath, [join(REPO_ROOT, 'node_modules/mocha/bin/mocha.js'), join('test/data/preconditions', fixture)], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

describe('skips: visible outside CI, failures in CI', function () {
  this.timeout(60_000);

  it('outside CI a missing precondition skips the suite, saying what is missing, and the run passes', async () => {
    const { code, output } = await mocha('missing.fixture.ts', false);
    expect(code, output).to.equal(0);
    expect(output).to.include('SKIPPED a suite needing something this machine lacks: needs the flux capacitor');
    expect(output).to.include('0 passed, 0 failed, 1 skipped');
  });

  it('in CI the same missing precondition fails the run, naming it', async () => {
    const { code, output } = await mocha('missing.fixture.ts', true);
    expect(code, output).to.not.equal(0);
    expect(output).to.include('in CI a missing precondition is a failure, not a skip: needs the flux capacitor');
    expect(output).to.match(/0 passed, [1-9]\d* failed, 0 skipped/);
  });

  it('in CI a test skipped any other way fails the run too', async () => {
    const outside = await mocha('pending.fixture.ts', false);
    expect(outside.code, outside.output).to.equal(0);
    expect(outside.output).to.include('1 passed, 0 failed, 1 skipped');
    const inCi = await mocha('pending.fixture.ts', true);
    expect(inCi.code, inCi.output).to.not.equal(0);
    expect(inCi.output).to.include('1 passed, 1 failed, 0 skipped');
  });
});
