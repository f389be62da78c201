// A real kube-apiserver as the judge of what the project's own server accepts.
//
// The API-server conformance suite (test/conformance) against it: the
// same cases the project's own server passes earlier in `make test` must pass here too, so
// a behaviour the project's server invented (issue 11) shows up as a failing case with the
// real server's answer. The describe blocks for the local server's own machinery are left
// out by name (they skip themselves against any other server).
//
// The install as the README tells users: `kubectl apply -f dist/install.yaml` (rendered as
// `make manifests` renders it), then an AnchorLB.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse, parseAllDocuments } from 'yaml';
import { KUBECTL_PATH, REPO_ROOT } from '../support/apiserver.ts';
import { run } from '../support/testbed.ts';
import { KUBERNETES_VERSION, withRealCluster } from '../support/realcluster/index.ts';

interface MochaJsonTest {
  fullTitle: string;
  err?: { message?: string };
}

interface MochaJsonReport {
  stats: { tests: number; passes: number; failures: number; pending: number };
  passes: MochaJsonTest[];
  failures: MochaJsonTest[];
  pending: MochaJsonTest[];
}

/** Runs the conformance suite in its own mocha against `kubeconfig`; the JSON report. */
async function runConformance(kubeconfig: string): Promise<{ report: MochaJsonReport; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'anchorlb-conformance-report-'));
  try {
    const reportFile = join(dir, 'report.json');
    const child = spawn(
      process.execPath,
      [join(REPO_ROOT, 'node_modules/mocha/bin/mocha.js'), 'test/conformance/**/*.test.ts', '--grep', 'local server only', '--invert', '--reporter', 'json', '--reporter-option', `output=${reportFile}`],
      { cwd: REPO_ROOT, env: { ...process.env, CONFORMANCE_KUBECONFIG: kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise((resolve) => child.once('close', resolve));
    const text = await readFile(reportFile, 'utf8').catch(() => {
      throw new Error(`the conformance suite wrote no report; its output:\n${output}`);
    });
    return { report: JSON.parse(text) as MochaJsonReport, output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe(`real cluster: kube-apiserver ${KUBERNETES_VERSION}`, function () {
  const context = withRealCluster({ nodes: 0 });

  it('passes every case of the conformance suite that is not about the local server itself', async function () {
    this.timeout(20 * 60_000);
    const { report, output } = await runConformance(context.cluster.kubeconfigPath);
    const { stats } = report;
    process.stderr.write(`      conformance against kube-apiserver ${KUBERNETES_VERSION}: ${stats.passes} passed, ${stats.failures} failed, ${stats.pending} skipped\n`);
    const failures = report.failures.map((test) => `- ${test.fullTitle}\n    ${(test.err?.message ?? '').split('\n').join('\n    ')}`);
    const skipped = report.pending.map((test) => `- ${test.fullTitle}`);
    expect(stats.passes, `no conformance case passed; the suite's output:\n${output.slice(-4000)}`).to.be.greaterThan(0);
    expect(skipped, 'cases skipped against the real server').to.deep.equal([]);
    expect(failures, `${stats.failures} of ${stats.tests} conformance cases fail against kube-apiserver ${KUBERNETES_VERSION}:\n${failures.join('\n')}`).to.deep.equal([]);
  });

  describe('installed as users install it', function () {
    let manifest: string;

    before(async function () {
      this.timeout(60_000);
      // What `make manifests` writes to dist/install.yaml.
      const result = await run([KUBECTL_PATH, 'kustomize', '--load-restrictor', 'LoadRestrictionsNone', join(REPO_ROOT, 'config/default')], { timeoutMs: 60_000 });
      manifest = result.stdout;
    });

    it('kubectl apply -f dist/install.yaml creates every object, and the CRDs are established', async function () {
      this.timeout(120_000);
      const cluster = context.cluster;
      const applied = await cluster.kubectl(['apply', '-f', '-'], { stdin: manifest, timeoutMs: 60_000 });
      expect(applied.code, `kubectl apply -f dist/install.yaml said:\n${applied.stderr.trim()}`).to.equal(0);
      const crds = parseAllDocuments(manifest)
        .map((document) => document.toJS() as { kind?: string; metadata?: { name?: string } } | null)
        .filter((object) => object?.kind === 'CustomResourceDefinition')
        .map((object) => `crd/${object?.metadata?.name ?? ''}`);
      expect(crds).to.have.length.greaterThan(0);
      const established = await cluster.kubectl(['wait', '--for=condition=Established', ...crds, '--timeout=60s'], { timeoutMs: 90_000 });
      expect(established.code, established.stderr).to.equal(0);
    });

    it('kubectl apply of the sample AnchorLB is accepted and kubectl get anchorlb NAME shows it', async function () {
      const cluster = context.cluster;
      const applied = await cluster.kubectl(['apply', '-f', join(REPO_ROOT, 'config/samples/anchorlb.yaml')]);
      expect(applied.code, applied.stderr).to.equal(0);
      const sample = parse(await readFile(join(REPO_ROOT, 'config/samples/anchorlb.yaml'), 'utf8')) as { metadata: { name: string; namespace?: string } };
      const namespaceArgs = sample.metadata.namespace === undefined ? [] : ['-n', sample.metadata.namespace];
      const got = await cluster.kubectl(['get', 'anchorlb', sample.metadata.name, ...namespaceArgs, '-o', 'name']);
      expect(got.code, got.stderr).to.equal(0);
      expect(got.stdout.trim()).to.match(new RegExp(`/${sample.metadata.name}$`));
    });
  });
});
