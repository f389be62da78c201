import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import type { AnchorLB } from '../../../src/api/index.ts';
import { authorize, boundRules, rulesOf, ungrantedRules, type RbacObjects, type RequestAttributes } from '../../../src/localcluster/rbac.ts';
import type { KubeObject } from '../../../src/localcluster/types.ts';
import { VERSION } from '../../../src/common/version.ts';
import { DEFAULT_IMAGE, DESIRED_HASH_ANNOTATION, LIVENESS_SECRET_NAME, render, type Manifest } from '../../../src/operator/render.ts';
import { DEFAULT_RBAC_DIR, loadRbacTemplates } from '../../../src/operator/templates.ts';
import { defaultBindStateFile } from '../../../src/speaker/bind.ts';

const SAMPLE: AnchorLB = {
  apiVersion: 'anchorlb.io/v1beta1',
  kind: 'AnchorLB',
  metadata: { name: 'anchorlb', namespace: 'lb-system', uid: 'uid-1' },
  spec: {
    controller: { image: 'registry.example/anchorlb:1.0' },
    speaker: {
      image: 'registry.example/anchorlb:1.0',
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
    },
    logLevel: 'debug',
    modes: { l2: true, bgp: false },
    loadBalancerClass: 'anchorlb.io/lb',
    liveness: { port: 7950, heartbeatInterval: '200ms', missedHeartbeats: 4 },
  },
};

const WRITE_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection'];

interface Container {
  name: string;
  image: string;
  args: string[];
  env: { name: string; value?: string; valueFrom?: unknown }[];
  ports: { name: string; containerPort: number; protocol: string }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  securityContext: { runAsUser?: number; allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean; capabilities: { drop: string[]; add?: string[] } };
}
interface PodSpec {
  serviceAccountName: string;
  hostNetwork?: boolean;
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  securityContext: { runAsNonRoot?: boolean };
  containers: Container[];
}
interface Workload extends Manifest {
  spec: { template: { spec: PodSpec }; updateStrategy?: { rollingUpdate: { maxUnavailable: number } }; strategy?: { type: string } };
}

/** The BGPPeers' passwordSecret names of the sample installation. */
const PEER_SECRETS = ['tor-md5'];

async function renderSample(anchorlb: AnchorLB = SAMPLE, livenessSecretExists = false, speakerSecretNames: readonly string[] = PEER_SECRETS): Promise<Manifest[]> {
  return render({ anchorlb, rbacTemplates: await loadRbacTemplates(), speakerSecretNames, livenessSecretExists, generateLivenessKey: () => Buffer.alloc(32, 7) });
}

function find(objects: Manifest[], kind: string, name: string): Manifest {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`${kind} ${name} not rendered`);
  return found;
}

function container(objects: Manifest[], kind: 'Deployment' | 'DaemonSet', name: string): { pod: PodSpec; container: Container; workload: Workload } {
  const workload = find(objects, kind, name) as Workload;
  const pod = workload.spec.template.spec;
  const first = pod.containers[0];
  if (!first) throw new Error('no container');
  return { pod, container: first, workload };
}

function policyOf(objects: readonly Manifest[]): RbacObjects {
  const ofKind = (kind: string) => objects.filter((object) => object.kind === kind) as unknown as KubeObject[];
  return { roles: ofKind('Role'), roleBindings: ofKind('RoleBinding'), clusterRoles: ofKind('ClusterRole'), clusterRoleBindings: ofKind('ClusterRoleBinding') };
}

function serviceAccount(namespace: string, name: string) {
  return { name: `system:serviceaccount:${namespace}:${name}`, groups: ['system:serviceaccounts', 'system:authenticated'] };
}

function can(objects: readonly Manifest[], account: string, attributes: Omit<Extract<RequestAttributes, { kind: 'resource' }>, 'kind'>): boolean {
  return authorize(policyOf(objects), serviceAccount('lb-system', account), { kind: 'resource', ...attributes });
}

describe('operator render', () => {
  it('creates accounts and permissions before the workloads, all labelled as this installation', async () => {
    const objects = await renderSample();
    expect(objects.map((object) => object.kind).slice(-2)).to.deep.equal(['Deployment', 'DaemonSet']);
    for (const object of objects) {
      expect(object.metadata.labels?.['anchorlb.io/owner'], `${object.kind} ${object.metadata.name}`).to.equal('lb-system.anchorlb');
      expect(object.metadata.annotations?.[DESIRED_HASH_ANNOTATION]).to.match(/^[0-9a-f]{16}$/);
    }
  });

  it('puts namespaced objects and service-account subjects in the AnchorLB namespace, owned by it; cluster-scoped ones carry no owner reference', async () => {
    const objects = await renderSample();
    for (const object of objects) {
      const clusterScoped = object.kind.startsWith('Cluster');
      expect(object.metadata.namespace, `${object.kind} ${object.metadata.name}`).to.equal(clusterScoped ? undefined : 'lb-system');
      expect(object.metadata.ownerReferences?.[0]?.uid, object.kind).to.equal(clusterScoped ? undefined : 'uid-1');
      for (const subject of (object.subjects as { namespace?: string }[] | undefined) ?? []) expect(subject.namespace).to.equal('lb-system');
    }
  });

  it('generates the liveness Secret only when it is missing', async () => {
    const secret = find(await renderSample(), 'Secret', LIVENESS_SECRET_NAME);
    expect((secret.data as Record<string, string>).key).to.equal(Buffer.alloc(32, 7).toString('base64'));
    let generated = 0;
    const objects = render({ anchorlb: SAMPLE, rbacTemplates: await loadRbacTemplates(), speakerSecretNames: PEER_SECRETS, livenessSecretExists: true, generateLivenessKey: () => Buffer.from([generated++]) });
    expect(objects.some((object) => object.kind === 'Secret')).to.equal(false);
    expect(generated).to.equal(0);
  });

  it('runs the speaker on the host network with only NET_RAW and NET_ADMIN added, read-only root, probes on its metrics port, one node at a time', async () => {
    const { pod, container: speaker, workload } = container(await renderSample(), 'DaemonSet', 'anchorlb-speaker');
    expect(pod.hostNetwork).to.equal(true);
    expect(speaker.securityContext.capabilities).to.deep.equal({ drop: ['ALL'], add: ['NET_RAW', 'NET_ADMIN'] });
    expect(speaker.securityContext.readOnlyRootFilesystem).to.equal(true);
    expect(speaker.securityContext.allowPrivilegeEscalation).to.equal(false);
    const metrics = speaker.ports.find((port) => port.name === 'metrics');
    expect(metrics?.protocol).to.equal('TCP');
    expect([speaker.livenessProbe.httpGet, speaker.readinessProbe.httpGet]).to.deep.equal([
      { path: '/healthz', port: 'metrics' },
      { path: '/readyz', port: 'metrics' },
    ]);
    expect(speaker.args).to.deep.equal(['speaker', '--liveness-secret', LIVENESS_SECRET_NAME, '--metrics-port', '7473', '--modes', 'l2', '--log-level', 'debug', '--load-balancer-class', 'anchorlb.io/lb']);
    expect(speaker.env.filter((entry) => entry.name.startsWith('ANCHORLB_'))).to.deep.equal([
      { name: 'ANCHORLB_LOG_LEVEL', value: 'debug' },
      { name: 'ANCHORLB_LIVENESS_PORT', value: '7950' },
      { name: 'ANCHORLB_HEARTBEAT_INTERVAL', value: '200ms' },
      { name: 'ANCHORLB_MISSED_HEARTBEATS', value: '4' },
    ]);
    expect(speaker.ports).to.deep.include({ name: 'liveness', containerPort: 7950, protocol: 'UDP' });
    expect(workload.spec.updateStrategy?.rollingUpdate.maxUnavailable).to.equal(1);
    expect(pod.nodeSelector).to.deep.equal({ 'kubernetes.io/os': 'linux' });
    expect(pod.tolerations).to.deep.equal(SAMPLE.spec?.speaker?.tolerations);
    expect(pod.serviceAccountName).to.equal('anchorlb-speaker');
    expect(speaker.env.find((entry) => entry.name === 'NODE_NAME')?.valueFrom).to.deep.equal({ fieldRef: { fieldPath: 'spec.nodeName' } });
  });

  it('gives both workloads a writable /tmp, the speaker also the host directory of its bind records, and nothing else writable', async () => {
    const objects = await renderSample();
    const tmp = { volume: { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }, mount: { name: 'tmp', mountPath: '/tmp' } };
    const records = { volume: { name: 'bind-records', hostPath: { path: '/run/anchorlb', type: 'DirectoryOrCreate' } }, mount: { name: 'bind-records', mountPath: '/run/anchorlb' } };
    for (const [kind, name, expected] of [['Deployment', 'anchorlb-controller', [tmp]], ['DaemonSet', 'anchorlb-speaker', [tmp, records]]] as const) {
      const workload = find(objects, kind, name) as Workload & { spec: { template: { spec: { volumes: unknown[]; containers: { volumeMounts: unknown[] }[] } } } };
      expect(workload.spec.template.spec.volumes, name).to.deep.equal(expected.map((entry) => entry.volume));
      expect(workload.spec.template.spec.containers[0]?.volumeMounts, name).to.deep.equal(expected.map((entry) => entry.mount));
    }
  });

  it('the speaker keeps its bind records (by default) in the host directory it mounts, so they outlive the pod', async () => {
    const { pod, container: speaker } = container(await renderSample(), 'DaemonSet', 'anchorlb-speaker');
    const volumes = (pod as unknown as { volumes: Array<{ name: string; hostPath?: { path: string } }> }).volumes;
    const mounts = (speaker as unknown as { volumeMounts: Array<{ name: string; mountPath: string }> }).volumeMounts;
    const mounted = mounts.filter((mount) => volumes.some((volume) => volume.name === mount.name && volume.hostPath !== undefined));
    const record = defaultBindStateFile('node1');
    expect(mounted.some((mount) => record.startsWith(`${mount.mountPath}/`)), `${record} under a hostPath mount`).to.equal(true);
  });

  it('gives the speaker room above what it was measured to use (272 MiB at peak with 1,000 Services)', async () => {
    const { container: speaker } = container(await renderSample(), 'DaemonSet', 'anchorlb-speaker');
    const { resources } = speaker as unknown as { resources: { requests: { memory: string }; limits: { memory: string } } };
    expect(resources.limits.memory).to.equal('512Mi');
    expect(resources.requests.memory).to.equal('256Mi');
  });

  it('runs the controller as non-root with no capabilities, read-only root, its class and pool namespace', async () => {
    const { pod, container: controller, workload } = container(await renderSample(), 'Deployment', 'anchorlb-controller');
    expect(pod.securityContext.runAsNonRoot).to.equal(true);
    expect(pod.hostNetwork).to.equal(undefined);
    expect(controller.securityContext.capabilities).to.deep.equal({ drop: ['ALL'] });
    expect(controller.securityContext.readOnlyRootFilesystem).to.equal(true);
    expect(controller.image).to.equal('registry.example/anchorlb:1.0');
    expect(controller.args).to.deep.equal(['controller', '--pool-namespace', 'lb-system', '--metrics-port', '7472', '--load-balancer-class', 'anchorlb.io/lb']);
    expect(controller.env).to.deep.include({ name: 'ANCHORLB_LOG_LEVEL', value: 'debug' });
    expect(workload.spec.strategy?.type).to.equal('Recreate');
  });

  it('changes the workloads (and so rolls them) when the image, log level or node selector change', async () => {
    const hashes = (objects: Manifest[]) => ['Deployment', 'DaemonSet'].map((kind) => objects.find((object) => object.kind === kind)?.metadata.annotations?.[DESIRED_HASH_ANNOTATION]);
    const before = hashes(await renderSample());
    const changed = structuredClone(SAMPLE);
    changed.spec = { ...changed.spec, logLevel: 'warn' };
    expect(hashes(await renderSample(changed)).every((hash, i) => hash !== before[i])).to.equal(true);
    const selector = structuredClone(SAMPLE);
    if (selector.spec?.speaker) selector.spec.speaker.nodeSelector = { 'anchorlb.io/speaker': 'yes' };
    const after = hashes(await renderSample(selector));
    expect([after[0] === before[0], after[1] === before[1]]).to.deep.equal([true, false]);
    expect(hashes(await renderSample())).to.deep.equal(before);
  });

  it('puts the metrics ports, resources, priority classes and the speakers\' affinity of the AnchorLB into the pods', async () => {
    const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'edge', operator: 'In', values: ['yes'] }] }] } } };
    const resources = { requests: { cpu: '100m', memory: '96Mi' }, limits: { memory: '192Mi' } };
    const tuned = structuredClone(SAMPLE);
    tuned.spec = {
      ...tuned.spec,
      controller: { ...tuned.spec?.controller, metricsPort: 9472, resources, priorityClassName: 'high' },
      speaker: { ...tuned.spec?.speaker, metricsPort: 9473, resources, priorityClassName: 'system-node-critical', affinity },
    };
    const objects = await renderSample(tuned);
    const controller = container(objects, 'Deployment', 'anchorlb-controller');
    const speaker = container(objects, 'DaemonSet', 'anchorlb-speaker');
    for (const [rendered, port, priority] of [[controller, 9472, 'high'], [speaker, 9473, 'system-node-critical']] as const) {
      expect(rendered.container.args.slice(rendered.container.args.indexOf('--metrics-port'))[1]).to.equal(String(port));
      expect(rendered.container.ports).to.deep.include({ name: 'metrics', containerPort: port, protocol: 'TCP' });
      expect((rendered.container as unknown as { resources: unknown }).resources).to.deep.equal(resources);
      expect((rendered.pod as unknown as { priorityClassName: string }).priorityClassName).to.equal(priority);
    }
    expect((speaker.pod as unknown as { affinity: unknown }).affinity).to.deep.equal(affinity);
    expect(controller.pod).to.not.have.property('affinity');
    const plain = container(await renderSample(), 'DaemonSet', 'anchorlb-speaker');
    expect(plain.pod).to.not.have.any.keys('priorityClassName', 'affinity');
    expect((plain.container as unknown as { resources: unknown }).resources).to.deep.equal({ requests: { cpu: '50m', memory: '256Mi' }, limits: { memory: '512Mi' } });
  });

  it('uses defaults for an AnchorLB with an empty spec', async () => {
    const objects = await renderSample({ ...SAMPLE, spec: {} });
    const { container: speaker } = container(objects, 'DaemonSet', 'anchorlb-speaker');
    expect(speaker.args).to.include.members(['--modes', 'l2,bgp', '--log-level', 'info']);
    expect(speaker.args).to.not.include('--load-balancer-class');
    expect(speaker.image).to.equal(`anchorlb/anchorlb:${VERSION}`);
  });

  it('names the image `make image` builds for this version, as the installed operator and the sample do', async () => {
    expect(DEFAULT_IMAGE).to.equal(`anchorlb/anchorlb:${VERSION}`);
    for (const file of ['config/manager/manager.yaml', 'config/samples/anchorlb.yaml']) {
      const text = await readFile(new URL(`../../../${file}`, import.meta.url), 'utf8');
      const images = [...text.matchAll(/^\s*image:\s*(\S+)/gm)].map((match) => match[1]);
      expect(images.length, file).to.be.greaterThan(0);
      for (const image of images) expect(image, file).to.equal(DEFAULT_IMAGE);
    }
  });

  it('refuses an AnchorLB without a namespace with a message naming it', async () => {
    const rbacTemplates = await loadRbacTemplates();
    expect(() => render({ anchorlb: { ...SAMPLE, metadata: { name: 'x' } }, rbacTemplates, speakerSecretNames: [], livenessSecretExists: true, generateLivenessKey: () => Buffer.alloc(1) })).to.throw(/AnchorLB x: metadata.namespace/);
  });
});

describe('config/rbac least privilege', () => {
  it('has no wildcard anywhere', async () => {
    for (const file of ['operator.yaml', 'controller.yaml', 'speaker.yaml']) {
      const text = await readFile(`${DEFAULT_RBAC_DIR}${file}`, 'utf8');
      for (const document of parseAllDocuments(text)) {
        const rules = ((document.toJS() as { rules?: Record<string, string[]>[] }).rules ?? []);
        for (const rule of rules) {
          for (const field of ['verbs', 'apiGroups', 'resources', 'resourceNames']) expect(rule[field] ?? [], `${file} ${field}`).to.not.include('*');
        }
      }
    }
  });

  // kube-apiserver lets the operator create a role or binding only when it holds every permission
  // granted (checked as its ConfirmNoEscalation does); it has neither escalate nor bind.
  it('lets the operator hold every permission it hands out, and neither escalate nor bind', async () => {
    const operatorObjects = parseAllDocuments(await readFile(`${DEFAULT_RBAC_DIR}operator.yaml`, 'utf8')).map((document) => document.toJS() as Manifest);
    const operatorRules = policyOf(operatorObjects).clusterRoles.concat(policyOf(operatorObjects).roles).flatMap((role) => rulesOf(role));
    expect(operatorRules.flatMap((rule) => rule.verbs)).to.not.include.members(['escalate', 'bind']);
    const namespace = 'anchorlb-system';
    const rendered = await renderSample({ ...SAMPLE, metadata: { ...SAMPLE.metadata, namespace } });
    const policy = policyOf([...operatorObjects, ...rendered]);
    const operator = serviceAccount(namespace, 'anchorlb-operator');
    const granted = rendered.filter((object) => object.kind.endsWith('Role') || object.kind.endsWith('Binding')) as unknown as KubeObject[];
    expect(granted).to.have.length(8);
    for (const object of granted) {
      const rules = object.kind.endsWith('Binding') ? boundRules(policy, object) : rulesOf(object);
      expect(rules, object.kind).to.not.equal(undefined);
      expect(ungrantedRules(policy, operator, rules ?? [], object.metadata.namespace), `${object.kind} ${object.metadata.name ?? ''}`).to.deep.equal([]);
    }
  });

  it('lets the speaker read what it decides from and write VIPStatus, but never write Services or read Secrets elsewhere', async () => {
    const objects = await renderSample();
    expect(can(objects, 'anchorlb-speaker', { verb: 'watch', group: '', resource: 'services' })).to.equal(true);
    expect(can(objects, 'anchorlb-speaker', { verb: 'list', group: 'discovery.k8s.io', resource: 'endpointslices' })).to.equal(true);
    expect(can(objects, 'anchorlb-speaker', { verb: 'create', group: 'anchorlb.io', resource: 'vipstatuses', namespace: 'shop' })).to.equal(true);
    expect(can(objects, 'anchorlb-speaker', { verb: 'patch', group: 'anchorlb.io', resource: 'bgppeers', subresource: 'status', namespace: 'lb-system', name: 'p' })).to.equal(true);
    expect(can(objects, 'anchorlb-speaker', { verb: 'get', group: '', resource: 'secrets', namespace: 'lb-system', name: LIVENESS_SECRET_NAME })).to.equal(true);
    for (const verb of WRITE_VERBS) {
      expect(can(objects, 'anchorlb-speaker', { verb, group: '', resource: 'services', namespace: 'shop', name: 's' }), verb).to.equal(false);
      expect(can(objects, 'anchorlb-speaker', { verb, group: '', resource: 'services', subresource: 'status', namespace: 'shop', name: 's' }), verb).to.equal(false);
    }
    for (const namespace of ['shop', 'kube-system']) {
      for (const verb of ['get', 'list', 'watch']) expect(can(objects, 'anchorlb-speaker', { verb, group: '', resource: 'secrets', namespace, name: 'x' }), `${verb} ${namespace}`).to.equal(false);
    }
    expect(can(objects, 'anchorlb-speaker', { verb: 'update', group: '', resource: 'secrets', namespace: 'lb-system', name: LIVENESS_SECRET_NAME })).to.equal(false);
    expect(can(objects, 'anchorlb-speaker', { verb: 'update', group: 'anchorlb.io', resource: 'ipaddresspools', namespace: 'lb-system', name: 'p' })).to.equal(false);
  });

  it('lets the speaker read, in its namespace, only the liveness key and the Secrets its BGPPeers name, and follows the peers', async () => {
    const reads = (objects: Manifest[], name: string | undefined) =>
      ['get', 'list', 'watch'].map((verb) => can(objects, 'anchorlb-speaker', { verb, group: '', resource: 'secrets', namespace: 'lb-system', ...(name === undefined ? {} : { name }) }));
    const objects = await renderSample();
    // list and watch carry the name of a metadata.name field selector, as in kube-apiserver.
    for (const name of [LIVENESS_SECRET_NAME, 'tor-md5']) expect(reads(objects, name), name).to.deep.equal([true, true, true]);
    expect(reads(objects, 'someone-elses'), 'another Secret').to.deep.equal([false, false, false]);
    expect(reads(objects, undefined), 'every Secret').to.deep.equal([false, false, false]);
    const withoutPeers = await renderSample(SAMPLE, false, []);
    expect(reads(withoutPeers, 'tor-md5')).to.deep.equal([false, false, false]);
    expect(reads(withoutPeers, LIVENESS_SECRET_NAME)).to.deep.equal([true, true, true]);
    expect(reads(withoutPeers, undefined), 'never every Secret, even with no peer').to.deep.equal([false, false, false]);
    const role = (rendered: Manifest[]) => find(rendered, 'Role', 'anchorlb-speaker').metadata.annotations?.[DESIRED_HASH_ANNOTATION];
    expect(role(withoutPeers), 'the Role is rewritten when the peers change').to.not.equal(role(objects));
  });

  it('lets the controller allocate (Service status, pools, events) but read no Secret at all', async () => {
    const objects = await renderSample();
    expect(can(objects, 'anchorlb-controller', { verb: 'patch', group: '', resource: 'services', subresource: 'status', namespace: 'shop', name: 's' })).to.equal(true);
    expect(can(objects, 'anchorlb-controller', { verb: 'watch', group: '', resource: 'namespaces' })).to.equal(true);
    expect(can(objects, 'anchorlb-controller', { verb: 'list', group: 'anchorlb.io', resource: 'ipaddresspools', namespace: 'lb-system' })).to.equal(true);
    expect(can(objects, 'anchorlb-controller', { verb: 'create', group: '', resource: 'events', namespace: 'shop' })).to.equal(true);
    expect(can(objects, 'anchorlb-controller', { verb: 'list', group: 'anchorlb.io', resource: 'ipaddresspools', namespace: 'shop' })).to.equal(false);
    for (const verb of ['get', 'list', 'watch']) {
      expect(can(objects, 'anchorlb-controller', { verb, group: '', resource: 'secrets', namespace: 'lb-system', name: LIVENESS_SECRET_NAME }), verb).to.equal(false);
    }
    expect(can(objects, 'anchorlb-controller', { verb: 'delete', group: '', resource: 'services', namespace: 'shop', name: 's' })).to.equal(false);
  });
});
