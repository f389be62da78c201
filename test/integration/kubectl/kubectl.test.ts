// The real kubectl (installed by `make setup-kubectl`) against the local API server, unchanged:
// apply with validation, get with printer columns, describe, patch, wait, get -w, delete --wait.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT, createKubectl, withLocalApiServer, type KubectlResult } from '../../support/apiserver.ts';

const WIDGET_CRD = join(REPO_ROOT, 'test/data/conformance/widgets.crd.yaml');
const WIDGET_SAMPLE = join(REPO_ROOT, 'test/data/conformance/widget-sample.yaml');
const NAMESPACE = 'kubectl-test';

function succeeded(result: KubectlResult, what: string): string {
  expect(result.code, `${what}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`).to.equal(0);
  return result.stdout;
}

/** Reads lines from a running kubectl until one matches, or its output ends. */
function waitForLine(output: NodeJS.ReadableStream, pattern: RegExp, seen: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        seen.push(line);
        if (pattern.test(line)) {
          output.off('data', onData);
          resolve(line);
          return;
        }
      }
    };
    output.on('data', onData);
    output.once('end', () => reject(new Error(`output ended before a line matched ${pattern}; saw:\n${seen.join('\n')}`)));
  });
}

/** The namespaces the sample manifests live in (they must exist before kubectl applies them). */
function sampleNamespaces(directory: string): Set<string> {
  const namespaces = new Set<string>();
  for (const entry of readdirSync(directory, { recursive: true, encoding: 'utf8' })) {
    if (!/\.ya?ml$/.test(entry)) continue;
    for (const document of parseAllDocuments(readFileSync(join(directory, entry), 'utf8'))) {
      const namespace: unknown = document.getIn(['metadata', 'namespace']);
      if (typeof namespace === 'string') namespaces.add(namespace);
    }
  }
  return namespaces;
}

describe('kubectl against the local API server', function () {
  this.timeout(60_000);
  const cluster = withLocalApiServer();
  const widgets = () => cluster.kubeConfig.makeApiClient(CustomObjectsApi);
  // kubectl's create subcommands send protobuf for built-in kinds; apply sends JSON.
  const applyManifest = (manifest: object) => cluster.kubectl(['apply', '-f', '-'], { stdin: JSON.stringify(manifest) });

  before(async () => {
    await cluster.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NAMESPACE } } });
    succeeded(await cluster.kubectl(['apply', '-f', WIDGET_CRD]), 'apply widget CRD');
    succeeded(await cluster.kubectl(['wait', '--for=condition=Established', 'crd/widgets.conformance.anchorlb.io', '--timeout=30s']), 'wait Established');
  });

  it('reports the server version', async () => {
    const output = succeeded(await cluster.kubectl(['version']), 'version');
    expect(output).to.match(/Server Version: v\d+\.\d+\.\d+/);
  });

  it("applies the project's CRDs and samples with validation on", async function () {
    const crdDir = join(REPO_ROOT, 'crds');
    const applied = succeeded(await cluster.kubectl(['apply', '-f', crdDir]), 'apply crds/');
    expect(applied).to.match(/customresourcedefinition\.apiextensions\.k8s\.io\/\S+ created/);
    succeeded(await cluster.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=30s']), 'wait for CRDs');
    const again = succeeded(await cluster.kubectl(['apply', '-f', crdDir]), 'apply crds/ again');
    expect(again).to.match(/unchanged/);
    const samples = join(REPO_ROOT, 'config/samples');
    for (const namespace of sampleNamespaces(samples)) {
      succeeded(await applyManifest({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }), `create namespace ${namespace}`);
    }
    const output = succeeded(await cluster.kubectl(['apply', '--recursive', '-f', samples]), 'apply config/samples/');
    expect(output).to.match(/ created$/m);
  });

  // The category is `anchorlb-all`: a category named like the AnchorLB kind's singular name makes
  // kubectl expand `anchorlb` to every kind of the category ("you must specify only one resource").
  it('gets the AnchorLB by its singular name, and every anchorlb kind by the category anchorlb-all', async () => {
    const one = succeeded(await cluster.kubectl(['get', 'anchorlb', 'anchorlb', '-n', 'anchorlb-system', '-o', 'name']), 'get anchorlb anchorlb');
    expect(one.trim()).to.equal('anchorlb.anchorlb.io/anchorlb');
    const all = succeeded(await cluster.kubectl(['get', 'anchorlb-all', '-A', '-o', 'name']), 'get anchorlb-all');
    expect(all).to.match(/^anchorlb\.anchorlb\.io\/anchorlb$/m);
    expect(all).to.match(/^ipaddresspool\.anchorlb\.io\//m);
    expect(all).to.match(/^l2advertisement\.anchorlb\.io\//m);
  });

  it('applies a custom resource, then reports it unchanged on re-apply', async () => {
    const created = succeeded(await cluster.kubectl(['apply', '-n', NAMESPACE, '-f', WIDGET_SAMPLE]), 'apply sample');
    expect(created.trim()).to.equal('widget.conformance.anchorlb.io/sample created');
    const again = succeeded(await cluster.kubectl(['apply', '-n', NAMESPACE, '-f', WIDGET_SAMPLE]), 're-apply sample');
    expect(again.trim()).to.equal('widget.conformance.anchorlb.io/sample unchanged');
  });

  // kubectl validates apply by default (server-side field validation, or the OpenAPI schema).
  it('refuses to apply a manifest with an unknown field', async () => {
    const manifest = 'apiVersion: conformance.anchorlb.io/v1\nkind: Widget\nmetadata:\n  name: bogus\nspec:\n  size: 1\n  bogusField: 1\n';
    const result = await cluster.kubectl(['apply', '-n', NAMESPACE, '-f', '-'], { stdin: manifest });
    expect(result.code).to.not.equal(0);
    expect(result.stderr).to.contain('bogusField');
  });

  it('gets custom resources with their printer columns, by short name and category too', async () => {
    const output = succeeded(await cluster.kubectl(['get', 'widgets', '-n', NAMESPACE]), 'get widgets');
    const [header, row] = output.trim().split('\n');
    expect(header?.split(/\s+/)).to.deep.equal(['NAME', 'COLOR', 'SIZE', 'PHASE', 'AGE']);
    expect(row).to.match(/^sample\s+green\s+3\s+/);
    expect(succeeded(await cluster.kubectl(['get', 'wdg', '-n', NAMESPACE, '-o', 'name']), 'get wdg').trim()).to.equal(
      'widget.conformance.anchorlb.io/sample',
    );
    expect(succeeded(await cluster.kubectl(['get', 'conformance', '-n', NAMESPACE, '-o', 'name']), 'get category').trim()).to.equal(
      'widget.conformance.anchorlb.io/sample',
    );
  });

  it('gets services with the built-in columns', async () => {
    succeeded(
      await applyManifest({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: NAMESPACE },
        spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
      }),
      'apply service',
    );
    const output = succeeded(await cluster.kubectl(['get', 'services', '-n', NAMESPACE]), 'get services');
    const [header, row] = output.trim().split('\n');
    expect(header?.split(/\s+/)).to.deep.equal(['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE']);
    expect(row).to.match(/^web\s+LoadBalancer\s+\S+\s+<pending>\s+80:3\d{4}\/TCP\s+/);
  });

  // kubectl explain reads the served OpenAPI schema of the custom resource.
  it('explains a custom resource field from the OpenAPI schema', async () => {
    const output = succeeded(await cluster.kubectl(['explain', 'widgets.spec']), 'explain');
    expect(output).to.match(/^KIND:\s+Widget$/m);
    expect(output).to.match(/^\s+size\s+<integer> -required-$/m);
    expect(output).to.match(/^\s+color\s+<string>/m);
  });

  it('describes a custom resource', async () => {
    const output = succeeded(await cluster.kubectl(['describe', 'widget', 'sample', '-n', NAMESPACE]), 'describe');
    expect(output).to.match(/^Name:\s+sample$/m);
    expect(output).to.match(/^Namespace:\s+kubectl-test$/m);
    expect(output).to.match(/^Kind:\s+Widget$/m);
    expect(output).to.match(/^\s+Size:\s+3$/m);
    expect(output).to.match(/^Events:\s+<none>$/m);
  });

  it('patches with merge, JSON and strategic patches', async () => {
    const patched = succeeded(
      await cluster.kubectl(['patch', 'widget', 'sample', '-n', NAMESPACE, '--type=merge', '-p', '{"spec":{"size":4}}']),
      'merge patch',
    );
    expect(patched.trim()).to.equal('widget.conformance.anchorlb.io/sample patched');
    succeeded(
      await cluster.kubectl(['patch', 'widget', 'sample', '-n', NAMESPACE, '--type=json', '-p', '[{"op":"replace","path":"/spec/color","value":"blue"}]']),
      'json patch',
    );
    const spec = succeeded(await cluster.kubectl(['get', 'widget', 'sample', '-n', NAMESPACE, '-o', 'jsonpath={.spec.size} {.spec.color}']), 'read');
    expect(spec).to.equal('4 blue');

    succeeded(
      await applyManifest({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'app', namespace: NAMESPACE },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: 'app' } },
          template: { metadata: { labels: { app: 'app' } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } },
        },
      }),
      'apply deployment',
    );
    succeeded(
      await cluster.kubectl([
        'patch', 'deployment', 'app', '-n', NAMESPACE,
        '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"registry.invalid/sidecar:1"}]}}}}',
      ]),
      'strategic patch',
    );
    const containers = succeeded(
      await cluster.kubectl(['get', 'deployment', 'app', '-n', NAMESPACE, '-o', 'jsonpath={.spec.template.spec.containers[*].name}']),
      'read containers',
    );
    expect(containers.split(' ').sort()).to.deep.equal(['app', 'sidecar']);
  });

  it('waits for a condition set while it waits', async () => {
    const waiting = cluster.kubectl(['wait', '--for=condition=Ready', 'widget/sample', '-n', NAMESPACE, '--timeout=45s'], { timeoutMs: 50_000 });
    succeeded(
      await cluster.kubectl([
        'patch', 'widget', 'sample', '-n', NAMESPACE, '--subresource=status', '--type=merge',
        '-p', '{"status":{"phase":"Ready","conditions":[{"type":"Ready","status":"True","reason":"Test","message":"set by the test"}]}}',
      ]),
      'status patch',
    );
    const output = succeeded(await waiting, 'wait');
    expect(output.trim()).to.equal('widget.conformance.anchorlb.io/sample condition met');
  });

  it('streams changes with get -w', async () => {
    const watcher = cluster.spawnKubectl(['get', 'widgets', '-n', NAMESPACE, '-w']);
    const seen: string[] = [];
    try {
      await waitForLine(watcher.stdout, /^sample\s/, seen);
      await widgets().createNamespacedCustomObject({
        group: 'conformance.anchorlb.io',
        version: 'v1',
        namespace: NAMESPACE,
        plural: 'widgets',
        body: { apiVersion: 'conformance.anchorlb.io/v1', kind: 'Widget', metadata: { name: 'watched' }, spec: { size: 7, color: 'red' } },
      });
      const line = await waitForLine(watcher.stdout, /^watched\s/, seen);
      expect(line).to.match(/^watched\s+red\s+7\s+/);
    } finally {
      watcher.kill('SIGTERM');
    }
  });

  // delete waits (by default) until the object is really gone, i.e. until its finalizers are removed.
  it('deletes with --wait, returning only once finalizers are released', async () => {
    succeeded(
      await cluster.kubectl(['patch', 'widget', 'sample', '-n', NAMESPACE, '--type=merge', '-p', '{"metadata":{"finalizers":["conformance.anchorlb.io/hold"]}}']),
      'add finalizer',
    );
    const deleting = cluster.spawnKubectl(['delete', 'widget', 'sample', '-n', NAMESPACE, '--wait=true', '--timeout=45s']);
    const stdout: string[] = [];
    deleting.stdout.on('data', (chunk: Buffer) => stdout.push(chunk.toString()));
    const exited = new Promise<number | null>((resolve) => deleting.on('close', resolve));
    try {
      for (;;) {
        const state = await cluster.kubectl(['get', 'widget', 'sample', '-n', NAMESPACE, '-o', 'jsonpath={.metadata.deletionTimestamp}']);
        if (state.stdout !== '') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(deleting.exitCode, 'kubectl delete returned while the finalizer was still there').to.equal(null);
      succeeded(
        await cluster.kubectl(['patch', 'widget', 'sample', '-n', NAMESPACE, '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']),
        'remove finalizer',
      );
      expect(await exited).to.equal(0);
      expect(stdout.join('')).to.contain('widget.conformance.anchorlb.io "sample" deleted');
    } finally {
      deleting.kill('SIGTERM');
    }
    const gone = await cluster.kubectl(['get', 'widget', 'sample', '-n', NAMESPACE]);
    expect(gone.code).to.not.equal(0);
    expect(gone.stderr).to.contain('NotFound');
  });
});

describe('kubectl over HTTPS with the generated CA and per-identity kubeconfigs', function () {
  this.timeout(60_000);
  const cluster = withLocalApiServer({ tls: true });

  it('verifies the server against the kubeconfig CA and authenticates with the admin token', async () => {
    const output = succeeded(await cluster.kubectl(['get', 'namespaces', '-o', 'name']), 'get namespaces over HTTPS');
    expect(output.split('\n')).to.include('namespace/default');
  });

  it('acts as a service account with its own kubeconfig, within its RBAC grants', async () => {
    const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: 'kubectl-reader' } } });
    const rbac = cluster.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: 'default',
      body: { metadata: { name: 'kubectl-reader' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: 'default',
      body: {
        metadata: { name: 'kubectl-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kubectl-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'kubectl-reader', namespace: 'default' }],
      },
    });
    const kubeconfigPath = await cluster.server.createServiceAccountKubeconfig('default', 'kubectl-reader');
    const { kubectl, dispose } = await createKubectl(kubeconfigPath);
    try {
      succeeded(await kubectl.run(['get', 'configmaps', '-n', 'default']), 'list configmaps as the service account');
      const forbidden = await kubectl.run(['get', 'secrets', '-n', 'default']);
      expect(forbidden.code).to.not.equal(0);
      expect(forbidden.stderr).to.contain('Forbidden');
      expect(forbidden.stderr).to.contain('system:serviceaccount:default:kubectl-reader');
    } finally {
      await dispose();
    }
  });
});
