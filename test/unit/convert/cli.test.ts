import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { SAMPLES_DIR, sample } from './helpers.ts';

// Runs the real binary, as a user would; each run starts Node with tsx (about a second).
const BIN = fileURLToPath(new URL('../../../bin/anchorlb.js', import.meta.url));

function anchorlb(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args], { input: input ?? '', encoding: 'utf8', timeout: 15_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function kindsAndNames(yaml: string): string[] {
  return parseAllDocuments(yaml).map((document) => {
    const object = document.toJS() as { kind: string; metadata: { name: string; namespace?: string } };
    return `${object.kind} ${object.metadata.namespace ?? ''}/${object.metadata.name}`;
  });
}

describe('anchorlb convert (the command)', () => {
  let scratch: string;
  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'anchorlb-convert-'));
  });
  after(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  it('converts files given as arguments to YAML on stdout, notes on stderr, exit 0', () => {
    const run = anchorlb(['convert', `${SAMPLES_DIR}bgppeer-v1beta1.yaml`, `${SAMPLES_DIR}status.yaml`]);
    expect(run.status, run.stderr).to.equal(0);
    expect(kindsAndNames(run.stdout)).to.deep.equal(['BGPPeer metallb-system/legacy-router']);
    expect(run.stdout).to.contain('apiVersion: anchorlb.io/v1beta1');
    expect(run.stderr.trim().split('\n')).to.have.length(2);
    expect(run.stderr).to.match(/^note: .*status\.yaml: document 1 \(ServiceL2Status\/l2-abcde\): skipped/m);
  });

  it('reads standard input, writes -o FILE, and moves objects with --namespace', () => {
    const output = join(scratch, 'out.yaml');
    const run = anchorlb(['convert', '-o', output, '--namespace', 'anchorlb-system'], sample('legacy-configmap.yaml'));
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stdout).to.equal('');
    expect(run.stderr).to.contain(`anchorlb convert: 11 objects written to ${output}`);
    const names = kindsAndNames(readFileSync(output, 'utf8'));
    expect(names).to.have.length(11);
    expect(names).to.include('BGPPeer anchorlb-system/peer-1');
    expect(names.every((name) => name.includes(' anchorlb-system/'))).to.equal(true);
  });

  it('refuses input with problems: each on stderr by document, field and value, nothing written, exit 1', () => {
    const output = join(scratch, 'never.yaml');
    const run = anchorlb(['convert', '-o', output, '-'], sample('unsupported.yaml'));
    expect(run.status).to.equal(1);
    expect(run.stdout).to.equal('');
    expect(existsSync(output)).to.equal(false);
    expect(run.stderr).to.contain(
      'error: document 2 (Service/odd): metadata.annotations["metallb.io/some-future-knob"]: "on": not supported by anchorlb\n',
    );
    expect(run.stderr).to.contain('error: document 1 (BGPPeer/peer-a): spec.routeMap: "export-only": not supported by anchorlb\n');
    expect(run.stderr).to.match(/anchorlb convert: \d+ problems; nothing written\n$/);
  });

  it('exits 2 naming a file it cannot read', () => {
    const run = anchorlb(['convert', join(scratch, 'missing.yaml')]);
    expect(run.status).to.equal(2);
    expect(run.stdout).to.equal('');
    expect(run.stderr).to.match(/^error: cannot read input: .*missing\.yaml/);
  });

  it('exits 2 naming an output it cannot write, leaving no partial file', () => {
    const before = readdirSync(scratch);
    const output = join(scratch, 'no-such-dir', 'out.yaml');
    const run = anchorlb(['convert', '-o', output, `${SAMPLES_DIR}bfdprofile.yaml`]);
    expect(run.status).to.equal(2);
    expect(run.stderr).to.contain(`error: cannot write ${output}: `);
    expect(readdirSync(scratch)).to.deep.equal(before);
  });

  it('exits 2 on a usage error, so 1 always means the input has problems', () => {
    const run = anchorlb(['convert', '--no-such-option', `${SAMPLES_DIR}bfdprofile.yaml`]);
    expect(run.status).to.equal(2);
    expect(run.stdout).to.equal('');
    expect(run.stderr).to.contain("unknown option '--no-such-option'");
  });
});
