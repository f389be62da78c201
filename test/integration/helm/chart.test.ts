/**
 * The Helm chart (charts/anchorlb) with the real helm (Helm 4, `make setup-kubectl`):
 * lint, template, and an install against the project's API server that ends in the
 * same running system as `kubectl apply -f dist/install.yaml` plus the sample AnchorLB.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { parse, parseAllDocuments, stringify } from 'yaml';
import type { AnchorLB } from '../../../src/api/index.ts';
import { KubeHttpError, KubeRest } from '../../../src/kube/rest.ts';
import { render, type Manifest } from '../../../src/operator/render.ts';
import { loadRbacTemplates } from '../../../src/operator/templates.ts';
import { REPO_ROOT, type LocalApiServerContext, withLocalApiServer } from '../../support/apiserver.ts';
import { waitFor } from '../../support/testbed.ts';

const HELM_PATH = join(REPO_ROOT, '.tools/bin/helm');
const CHART = join(REPO_ROOT, 'charts/anchorlb');
const NS = 'anchorlb-system';

interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** helm with its cache, config and data homes in a scratch folder (nothing of the machine's). */
function helmRunner(home: string) {
  return async (args: readonly string[]): Promise<HelmResult> => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') };
    try {
      const { stdout, stderr } = await promisify(execFile)(HELM_PATH, args, { env, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? String(error) };
    }
  };
}

function objectsOf(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((document) => document.toJS() as Manifest | null)
    .filter((object): object is Manifest => object !== null && typeof object === 'object');
}

const keyOf = (object: Manifest) => `${object.kind} ${object.metadata.namespace ?? ''}/${object.metadata.name}`;

function byKey(objects: Manifest[]): Record<string, Manifest> {
  return Object.fromEntries(objects.map((object) => [keyOf(object), object]));
}

async function sample(): Promise<Manifest> {
  return parse(await readFile(join(REPO_ROOT, 'config/samples/anchorlb.yaml'), 'utf8')) as Manifest;
}

function podSpecOf(object: Manifest | undefined): Record<string, unknown> & { containers: Record<string, unknown>[] } {
  return (object as unknown as { spec: { template: { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } } } }).spec.template.spec;
}

describe('Helm chart charts/anchorlb', function () {
  this.timeout(120_000);
  let home = '';
  let helm: ReturnType<typeof helmRunner>;

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'anchorlb-helm-'));
    helm = helmRunner(home);
  });
  after(() => rm(home, { recursive: true, force: true }));

  const template = async (...args: string[]): Promise<Manifest[]> => {
    const result = await helm(['template', 'anchorlb', CHART, '--namespace', NS, ...args]);
    expect(result.code, result.stderr).to.equal(0);
    return objectsOf(result.stdout);
  };

  it('passes helm lint --strict', async () => {
    const result = await helm(['lint', '--strict', CHART]);
    expect(result.code, result.stdout + result.stderr).to.equal(0);
    expect(result.stdout).to.contain('1 chart(s) linted, 0 chart(s) failed');
  });

  it('renders with its defaults exactly the objects of dist/install.yaml and the sample AnchorLB (the namespace is the release\'s, not the chart\'s)', async () => {
    const kustomize = await promisify(execFile)(join(REPO_ROOT, '.tools/bin/kubectl'), ['kustomize', '--load-restrictor', 'LoadRestrictionsNone', join(REPO_ROOT, 'config/default')], { maxBuffer: 64 * 1024 * 1024 });
    const install = objectsOf(kustomize.stdout).filter((object) => object.kind !== 'Namespace');
    const chart = await template('--include-crds');
    expect(byKey(chart)).to.deep.equal(byKey([...install, await sample()]));
  });

  it('puts the values MetalLB users set into the operator Deployment and the AnchorLB, and from there into the pods the operator renders', async () => {
    const resources = { requests: { cpu: '100m', memory: '96Mi' }, limits: { memory: '200Mi' } };
    const tolerations = [{ key: 'edge', operator: 'Exists', effect: 'NoExecute' }];
    const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'lb', operator: 'In', values: ['edge'] }] }] } } };
    const values = {
      image: { repository: 'registry.example/anchorlb', tag: '9.9.9', pullPolicy: 'Always' },
      logLevel: 'debug',
      loadBalancerClass: 'anchorlb.io/lb',
      operator: { metricsPort: 9471, resources, priorityClassName: 'high', nodeSelector: { role: 'infra' }, tolerations, affinity },
      controller: { metricsPort: 9472, resources, priorityClassName: 'high' },
      speaker: { metricsPort: 9473, resources, priorityClassName: 'system-node-critical', nodeSelector: { lb: 'edge' }, tolerations, affinity },
      anchorlb: { name: 'edge', modes: { l2: true, bgp: false } },
    };
    const valuesFile = join(home, 'values.yaml');
    await writeFile(valuesFile, stringify(values));
    const objects = byKey(await template('--values', valuesFile));
    const operatorPod = podSpecOf(objects[`Deployment ${NS}/anchorlb-operator`]);
    expect(operatorPod).to.include({ priorityClassName: 'high' });
    expect(operatorPod).to.deep.include({ nodeSelector: { role: 'infra' }, tolerations, affinity });
    expect(operatorPod.containers[0]).to.include({ image: 'registry.example/anchorlb:9.9.9', imagePullPolicy: 'Always' });
    expect(operatorPod.containers[0]).to.deep.include({ args: ['operator', '--metrics-port', '9471'], resources });
    expect(operatorPod.containers[0]?.env).to.deep.include({ name: 'ANCHORLB_LOG_LEVEL', value: 'debug' });
    expect(operatorPod.containers[0]?.ports).to.deep.include({ name: 'metrics', containerPort: 9471, protocol: 'TCP' });

    const anchorlb = objects[`AnchorLB ${NS}/edge`] as unknown as AnchorLB;
    // Helm merges maps with the defaults (a user removes a default key with null): the speakers keep kubernetes.io/os.
    expect(anchorlb.spec).to.deep.equal({
      controller: { image: 'registry.example/anchorlb:9.9.9', metricsPort: 9472, resources, priorityClassName: 'high' },
      speaker: { image: 'registry.example/anchorlb:9.9.9', metricsPort: 9473, nodeSelector: { 'kubernetes.io/os': 'linux', lb: 'edge' }, tolerations, affinity, resources, priorityClassName: 'system-node-critical' },
      logLevel: 'debug',
      loadBalancerClass: 'anchorlb.io/lb',
      modes: { l2: true, bgp: false },
      liveness: { heartbeatInterval: '100ms', missedHeartbeats: 5, port: 7947 },
    });
    const rendered = byKey(render({ anchorlb, rbacTemplates: await loadRbacTemplates(), speakerSecretNames: [], livenessSecretExists: true, generateLivenessKey: () => Buffer.alloc(32) }));
    const speakerPod = podSpecOf(rendered[`DaemonSet ${NS}/anchorlb-speaker`]);
    expect(speakerPod).to.deep.include({ priorityClassName: 'system-node-critical', nodeSelector: { 'kubernetes.io/os': 'linux', lb: 'edge' }, tolerations, affinity });
    expect(speakerPod.containers[0]).to.deep.include({ image: 'registry.example/anchorlb:9.9.9', resources });
    expect(speakerPod.containers[0]?.args).to.include.members(['--metrics-port', '9473', '--load-balancer-class', 'anchorlb.io/lb', '--log-level', 'debug', '--modes', 'l2']);
    const controllerPod = podSpecOf(rendered[`Deployment ${NS}/anchorlb-controller`]);
    expect(controllerPod).to.include({ priorityClassName: 'high' });
    expect(controllerPod.containers[0]).to.deep.include({ resources });
    expect(controllerPod.containers[0]?.args).to.include.members(['--metrics-port', '9472']);
  });

  it('installs only the operator with anchorlb.create=false', async () => {
    const kinds = (await template('--set', 'anchorlb.create=false')).map((object) => object.kind);
    expect(kinds).to.not.include('AnchorLB');
    expect(kinds).to.include('Deployment');
  });

  it('refuses a bad value, naming where it is, before anything is installed', async () => {
    const badLevel = await helm(['template', 'anchorlb', CHART, '--set', 'logLevel=loud']);
    expect(badLevel.code).to.not.equal(0);
    expect(badLevel.stderr).to.contain("at '/logLevel'").and.contain('debug');
    const misspelt = await helm(['template', 'anchorlb', CHART, '--set', 'speaker.tolerances[0].key=x', '--set', 'speaker.metricsPort=0']);
    expect(misspelt.code).to.not.equal(0);
    expect(misspelt.stderr).to.contain("at '/speaker'").and.contain("'tolerances' not allowed");
    expect(misspelt.stderr).to.contain("at '/speaker/metricsPort'");
  });
});

/** What a user sees of an installation: the objects, without what the server and the installer stamp on them. */
async function installedObjects(cluster: LocalApiServerContext): Promise<Record<string, unknown>> {
  const rest = new KubeRest(cluster.kubeConfig);
  const collections: [string, string][] = [
    ['CustomResourceDefinition', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions'],
    ['ClusterRole', '/apis/rbac.authorization.k8s.io/v1/clusterroles'],
    ['ClusterRoleBinding', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings'],
    ['ServiceAccount', `/api/v1/namespaces/${NS}/serviceaccounts`],
    ['Secret', `/api/v1/namespaces/${NS}/secrets`],
    ['Role', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`],
    ['RoleBinding', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`],
    ['Deployment', `/apis/apps/v1/namespaces/${NS}/deployments`],
    ['DaemonSet', `/apis/apps/v1/namespaces/${NS}/daemonsets`],
    ['AnchorLB', `/apis/anchorlb.io/v1beta1/namespaces/${NS}/anchorlbs`],
  ];
  const found: Record<string, unknown> = {};
  for (const [kind, path] of collections) {
    const list = await rest.getJson<{ items: Manifest[] }>(path);
    for (const item of list.items) {
      // Helm's own record of the release, and what every namespace gets.
      if (kind === 'Secret' && item.type === 'helm.sh/release.v1') continue;
      if (kind === 'ServiceAccount' && item.metadata.name === 'default') continue;
      if (!item.metadata.name.startsWith('anchorlb') && !item.metadata.name.endsWith('.anchorlb.io')) continue;
      found[`${kind} ${item.metadata.namespace ?? ''}/${item.metadata.name}`] = normalised(kind, item);
    }
  }
  return found;
}

const STAMPED_METADATA = ['uid', 'resourceVersion', 'creationTimestamp', 'generation', 'managedFields'];

function normalised(kind: string, object: Manifest): Manifest {
  const copy = structuredClone(object);
  for (const field of STAMPED_METADATA) delete copy.metadata[field];
  const annotations = Object.entries(copy.metadata.annotations ?? {}).filter(
    // Helm's release annotations, and the operator's hash of what it wrote (it covers owner UIDs, which differ).
    ([key]) => !key.startsWith('meta.helm.sh/') && key !== 'anchorlb.io/desired-hash',
  );
  copy.metadata.annotations = Object.fromEntries(annotations);
  const labels = Object.entries(copy.metadata.labels ?? {}).filter(([key, value]) => !(key === 'app.kubernetes.io/managed-by' && value === 'Helm'));
  copy.metadata.labels = Object.fromEntries(labels);
  copy.metadata.ownerReferences = copy.metadata.ownerReferences?.map(({ uid: _uid, ...reference }) => ({ ...reference, uid: '(uid)' }));
  // The liveness key is random: the same keys, not the same bytes.
  if (kind === 'Secret') copy.data = Object.keys((object.data ?? {}) as object);
  delete copy.status;
  return copy;
}

describe('helm install against the local API server', function () {
  this.timeout(300_000);
  const byKubectl = withLocalApiServer();
  const byHelm = withLocalApiServer();
  const operators: ChildProcess[] = [];
  let home = '';

  const startOperator = async (cluster: LocalApiServerContext) => {
    const kubeconfig = await cluster.server.createServiceAccountKubeconfig(NS, 'anchorlb-operator');
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/anchorlb.js'), 'operator', '--kubeconfig', kubeconfig, '--namespace', NS, '--metrics-port', '0', '--metrics-host', '127.0.0.1'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    operators.push(child);
  };
  const reconciled = (cluster: LocalApiServerContext) =>
    waitFor(
      'the operator to deploy the controller and the speakers and report status',
      async () => {
        const rest = new KubeRest(cluster.kubeConfig);
        try {
          await rest.getJson(`/apis/apps/v1/namespaces/${NS}/daemonsets/anchorlb-speaker`);
          const anchorlb = await rest.getJson<AnchorLB>(`/apis/anchorlb.io/v1beta1/namespaces/${NS}/anchorlbs/anchorlb`);
          return (anchorlb.status?.conditions?.length ?? 0) > 0;
        } catch (error) {
          if (error instanceof KubeHttpError && error.statusCode === 404) return false;
          throw error;
        }
      },
      120_000,
      250,
    );

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'anchorlb-helm-'));
  });
  after(async () => {
    for (const child of operators.splice(0)) {
      if (child.exitCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(home, { recursive: true, force: true });
  });

  it('ends in the same objects as kubectl apply -f dist/install.yaml and the sample AnchorLB, once the operator has reconciled', async () => {
    const rendered = await byKubectl.kubectl(['kustomize', '--load-restrictor', 'LoadRestrictionsNone', join(REPO_ROOT, 'config/default')]);
    expect(rendered.code, rendered.stderr).to.equal(0);
    const applied = await byKubectl.kubectl(['apply', '--server-side', '-f', '-'], { stdin: rendered.stdout });
    expect(applied.code, applied.stderr).to.equal(0);
    const anchorlb = await byKubectl.kubectl(['apply', '--server-side', '-f', join(REPO_ROOT, 'config/samples/anchorlb.yaml')]);
    expect(anchorlb.code, anchorlb.stderr).to.equal(0);

    // Helm 4 installs with server-side apply, as here.
    const installed = await helmRunner(home)(['install', 'anchorlb', CHART, '--namespace', NS, '--create-namespace', '--kubeconfig', byHelm.kubeconfigPath]);
    expect(installed.code, installed.stderr).to.equal(0);
    expect(installed.stdout).to.contain('STATUS: deployed');

    await startOperator(byKubectl);
    await startOperator(byHelm);
    await reconciled(byKubectl);
    await reconciled(byHelm);
    const expected = await installedObjects(byKubectl);
    expect(Object.keys(expected)).to.include.members([`DaemonSet ${NS}/anchorlb-speaker`, `Deployment ${NS}/anchorlb-controller`, `Secret ${NS}/anchorlb-liveness`, 'ClusterRole /anchorlb-speaker']);
    expect(await installedObjects(byHelm)).to.deep.equal(expected);
  });

  it('rolls the speakers when helm upgrade changes a value', async () => {
    const upgraded = await helmRunner(home)(['upgrade', 'anchorlb', CHART, '--namespace', NS, '--kubeconfig', byHelm.kubeconfigPath, '--set', 'logLevel=debug', '--set', 'speaker.priorityClassName=system-node-critical']);
    expect(upgraded.code, upgraded.stderr).to.equal(0);
    const rest = new KubeRest(byHelm.kubeConfig);
    await waitFor(
      'the speaker DaemonSet to follow the new values',
      async () => {
        const pod = podSpecOf(await rest.getJson<Manifest>(`/apis/apps/v1/namespaces/${NS}/daemonsets/anchorlb-speaker`));
        return pod.priorityClassName === 'system-node-critical' && (pod.containers[0]?.args as string[]).includes('debug');
      },
      120_000,
      250,
    );
  });
});
