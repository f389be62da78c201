/**
 * The operator's reconcile path with bad input: an invalid AnchorLB keeps the last
 * good rendering running and says why; a second AnchorLB in the namespace is told
 * it is not served, and no object is written back and forth between the two.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import type { AnchorLB, Condition } from '../../../src/api/index.ts';
import { createLogger } from '../../../src/common/log.ts';
import { KubeRest } from '../../../src/kube/rest.ts';
import { FINALIZER, InstallationReconciler, anchorlbPath } from '../../../src/operator/reconcile.ts';
import { loadRbacTemplates } from '../../../src/operator/templates.ts';
import { REPO_ROOT, withLocalApiServer } from '../../support/apiserver.ts';

const NS = 'anchorlb-system';
const ANCHORLBS = `/apis/anchorlb.io/v1beta1/namespaces/${NS}/anchorlbs`;
const WORKLOADS = [`/apis/apps/v1/namespaces/${NS}/deployments/anchorlb-controller`, `/apis/apps/v1/namespaces/${NS}/daemonsets/anchorlb-speaker`];
/**
 * The CRDs as a Kubernetes that does not enforce validation rules sees them (before 1.25, or objects
 * stored before the rules came): the operator itself must keep a bad AnchorLB from doing harm.
 */
function withoutValidationRules(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutValidationRules);
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(Object.entries(node).filter(([key]) => key !== 'x-kubernetes-validations').map(([key, value]) => [key, withoutValidationRules(value)]));
}
const rulelessDir = mkdtempSync(join(tmpdir(), 'anchorlb-crds-'));
const crdFiles = readdirSync(join(REPO_ROOT, 'crds')).map((file) => {
  const target = join(rulelessDir, file);
  writeFileSync(target, stringify(withoutValidationRules(parse(readFileSync(join(REPO_ROOT, 'crds', file), 'utf8')))));
  return target;
});

interface Workload {
  metadata: { resourceVersion: string; labels?: Record<string, string> };
  spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } };
}

describe('operator: bad input never costs the running installation', function () {
  this.timeout(60_000);
  const cluster = withLocalApiServer({ crdFiles });
  let rest: KubeRest;
  let reconciler: InstallationReconciler;
  after(() => rmSync(rulelessDir, { recursive: true, force: true }));

  const get = (name: string) => rest.getJson<AnchorLB>(anchorlbPath(NS, name));
  const condition = async (name: string, type: string): Promise<Condition | undefined> => (await get(name)).status?.conditions?.find((c) => c.type === type);
  const workloads = () => Promise.all(WORKLOADS.map((path) => rest.getJson<Workload>(path)));
  const versions = async () => (await workloads()).map((workload) => workload.metadata.resourceVersion);

  before(async () => {
    rest = new KubeRest(cluster.kubeConfig);
    await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    reconciler = new InstallationReconciler({
      kubeConfig: cluster.kubeConfig,
      logger: createLogger('operator-test', 'silent'),
      rbacTemplates: await loadRbacTemplates(),
      writeStatus: async (anchorlb, status) => {
        await rest.patch(`${anchorlbPath(NS, anchorlb.metadata.name ?? '')}/status`, { status });
      },
    });
    const sample = parse(await readFile(join(REPO_ROOT, 'config/samples/anchorlb.yaml'), 'utf8')) as AnchorLB;
    await rest.create(ANCHORLBS, sample);
    await reconciler.reconcile(`${NS}/anchorlb`);
  });

  it('an invalid edit (zero heartbeat interval, invalid toleration) keeps the last good rendering and says why in Degraded', async () => {
    const before = await workloads();
    await rest.patch(anchorlbPath(NS, 'anchorlb'), { spec: { liveness: { heartbeatInterval: '0s' } } });
    await reconciler.reconcile(`${NS}/anchorlb`);
    expect(await versions()).to.deep.equal(before.map((workload) => workload.metadata.resourceVersion));
    expect(await condition('anchorlb', 'Degraded')).to.deep.include({
      status: 'True',
      reason: 'InvalidSpec',
      message: 'spec.liveness.heartbeatInterval: "0s": must be more than 0s (the rendering of generation 1 keeps running)',
    });

    await rest.patch(anchorlbPath(NS, 'anchorlb'), {
      spec: { liveness: { heartbeatInterval: '200ms' }, speaker: { tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', value: 'yes', effect: 'NoSchedule' }] } },
    });
    await reconciler.reconcile(`${NS}/anchorlb`);
    expect(await versions()).to.deep.equal(before.map((workload) => workload.metadata.resourceVersion));
    expect((await condition('anchorlb', 'Degraded'))?.message).to.equal(
      'spec.speaker.tolerations[0].value: "yes": must be empty when operator is Exists (the rendering of generation 1 keeps running)',
    );

    // Corrected: rendered, and no longer degraded for the spec.
    await rest.patch(anchorlbPath(NS, 'anchorlb'), { spec: { speaker: { tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }] } } });
    await reconciler.reconcile(`${NS}/anchorlb`);
    const [, speaker] = await workloads();
    expect(speaker?.spec.template.spec.containers[0]?.env?.find((env) => env.name === 'ANCHORLB_HEARTBEAT_INTERVAL')?.value).to.equal('200ms');
    expect((await condition('anchorlb', 'Degraded'))?.reason).to.not.equal('InvalidSpec');
  });

  it('a second AnchorLB in the namespace is told the oldest is served, and no object is written back and forth', async () => {
    await rest.create(ANCHORLBS, { apiVersion: 'anchorlb.io/v1beta1', kind: 'AnchorLB', metadata: { name: 'second' }, spec: { logLevel: 'debug' } });
    const before = await versions();
    for (let round = 0; round < 3; round++) {
      await reconciler.reconcile(`${NS}/second`);
      await reconciler.reconcile(`${NS}/anchorlb`);
    }
    expect(await versions()).to.deep.equal(before);
    for (const workload of await workloads()) expect(workload.metadata.labels?.['anchorlb.io/owner']).to.equal(`${NS}.anchorlb`);
    expect(await condition('second', 'Degraded')).to.deep.include({ status: 'True', reason: 'NotServed' });
    expect((await condition('second', 'Degraded'))?.message).to.contain(`AnchorLB ${NS}/anchorlb is the oldest in this namespace and is the one served`);
    expect((await get('second')).metadata.finalizers ?? []).to.not.include(FINALIZER);
    expect((await condition('anchorlb', 'Degraded'))?.reason).to.not.equal('NotServed');
  });
});
