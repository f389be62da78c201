import { expect } from 'chai';
import {
  commandLine,
  daemonSetStatus,
  deploymentStatus,
  expandReferences,
  placePods,
  probePort,
  referencedObjects,
  resolveEnv,
  rolloutActions,
  rolloutBatch,
  schedulable,
  templateHash,
  WorkloadError,
  type Container,
  type NodeInfo,
  type PodFields,
  type RunningPod,
  type Workload,
} from '../../../src/localcluster/workloads.ts';

const linux = { 'kubernetes.io/os': 'linux' };
const nodes: NodeInfo[] = [
  { name: 'node2', labels: linux, address: '192.0.2.12' },
  { name: 'node1', labels: linux, address: '192.0.2.11' },
  { name: 'cp', labels: { ...linux, 'node-role.kubernetes.io/control-plane': '' }, taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }], address: '192.0.2.10' },
];

function speakerDaemonSet(overrides: Partial<Workload['spec']['template']['spec']> = {}): Workload {
  return {
    kind: 'DaemonSet',
    metadata: { name: 'speaker', namespace: 'lb', generation: 3 },
    spec: {
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: { spec: { nodeSelector: linux, containers: [{ name: 'speaker', args: ['speaker'] }], ...overrides } },
    },
  };
}

function controllerDeployment(replicas: number, strategy?: Workload['spec']['strategy']): Workload {
  return {
    kind: 'Deployment',
    metadata: { name: 'controller', namespace: 'lb', generation: 2 },
    spec: { replicas, strategy, template: { spec: { containers: [{ name: 'controller', args: ['controller'] }] } } },
  };
}

describe('node agent: placement', () => {
  it('puts one DaemonSet pod on every node it selects, skipping nodes with taints it does not tolerate', () => {
    const slots = placePods([speakerDaemonSet()], nodes);
    expect(slots.map((slot) => slot.nodeName)).to.deep.equal(['node1', 'node2']);
    expect(slots.map((slot) => slot.key)).to.deep.equal(['lb/speaker/node1', 'lb/speaker/node2']);
  });

  it('runs on a tainted node once the taint is tolerated (by key, or by an Exists without key)', () => {
    const byKey = placePods([speakerDaemonSet({ tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }] })], nodes);
    expect(byKey.map((slot) => slot.nodeName)).to.deep.equal(['cp', 'node1', 'node2']);
    const everything = placePods([speakerDaemonSet({ tolerations: [{ operator: 'Exists' }] })], nodes);
    expect(everything).to.have.length(3);
    const wrongEffect = placePods([speakerDaemonSet({ tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoExecute' }] })], nodes);
    expect(wrongEffect.map((slot) => slot.nodeName)).to.deep.equal(['node1', 'node2']);
  });

  it('matches a toleration value with the Equal operator', () => {
    const node: NodeInfo = { name: 'n', labels: {}, taints: [{ key: 'dedicated', value: 'lb', effect: 'NoSchedule' }], address: '192.0.2.20' };
    expect(schedulable({ containers: [], tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'lb' }] }, node)).to.equal(true);
    expect(schedulable({ containers: [], tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db' }] }, node)).to.equal(false);
  });

  it('spreads Deployment replicas round-robin over eligible nodes in name order', () => {
    const slots = placePods([controllerDeployment(3)], nodes);
    expect(slots.map((slot) => slot.nodeName)).to.deep.equal(['node1', 'node2', 'node1']);
    expect(new Set(slots.map((slot) => slot.podName)).size).to.equal(3);
  });

  it('gives a changed template a new hash (the running pod is then out of date) and keeps the slot key', () => {
    const before = placePods([speakerDaemonSet()], nodes)[0];
    const after = placePods([speakerDaemonSet({ hostNetwork: true })], nodes)[0];
    expect(after?.key).to.equal(before?.key);
    expect(after?.templateHash).to.not.equal(before?.templateHash);
  });

  it('replaces one pod at a time for maxUnavailable 1, all at once for Recreate, and rounds percentages down but never below one', () => {
    expect(rolloutBatch(speakerDaemonSet(), 3)).to.equal(1);
    expect(rolloutBatch(controllerDeployment(4, { type: 'Recreate' }), 4)).to.equal(4);
    expect(rolloutBatch(controllerDeployment(1), 1)).to.equal(1);
    expect(rolloutBatch(controllerDeployment(8, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '50%' } }), 8)).to.equal(4);
    expect(() => rolloutBatch(controllerDeployment(2, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 'half' } }), 2)).to.throw(WorkloadError, /maxUnavailable "half"/);
  });
});

describe('node agent: container environment and command', () => {
  const fields: PodFields = { podName: 'speaker-node1', namespace: 'lb', nodeName: 'node1', podIP: '192.0.2.11', hostIP: '192.0.2.11', serviceAccountName: 'speaker' };
  const lookup = (kind: 'Secret' | 'ConfigMap', name: string, key: string) => (kind === 'Secret' && name === 'liveness' && key === 'key' ? 's3cret' : kind === 'ConfigMap' && name === 'cfg' && key === 'level' ? 'debug' : undefined);

  it('resolves downward-API fields, Secret and ConfigMap keys and $(VAR) references in order', () => {
    const container: Container = {
      name: 'speaker',
      env: [
        { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'KEY', valueFrom: { secretKeyRef: { name: 'liveness', key: 'key' } } },
        { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'level' } } },
        { name: 'OPTIONAL', valueFrom: { secretKeyRef: { name: 'absent', key: 'x', optional: true } } },
        { name: 'WHERE', value: '$(NODE_NAME)@$(POD_IP) $(UNKNOWN) $$(NODE_NAME)' },
      ],
    };
    expect(resolveEnv(container, fields, lookup)).to.deep.equal({
      NODE_NAME: 'node1',
      POD_NAMESPACE: 'lb',
      POD_IP: '192.0.2.11',
      KEY: 's3cret',
      LEVEL: 'debug',
      WHERE: 'node1@192.0.2.11 $(UNKNOWN) $(NODE_NAME)',
    });
    expect(referencedObjects(container)).to.deep.equal([
      { kind: 'Secret', name: 'liveness' },
      { kind: 'ConfigMap', name: 'cfg' },
      { kind: 'Secret', name: 'absent' },
    ]);
  });

  it('names the variable and the value when a reference cannot be resolved', () => {
    const missing: Container = { name: 'c', env: [{ name: 'KEY', valueFrom: { secretKeyRef: { name: 'liveness', key: 'nope' } } }] };
    expect(() => resolveEnv(missing, fields, lookup)).to.throw(WorkloadError, /container c env KEY: Secret lb\/liveness has no key "nope"/);
    const badField: Container = { name: 'c', env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.hostname' } } }] };
    expect(() => resolveEnv(badField, fields, lookup)).to.throw(WorkloadError, /env X: fieldRef.fieldPath "spec.hostname" is not supported/);
    expect(() => resolveEnv({ name: 'c', env: [{ name: 'Y', valueFrom: {} }] }, fields, lookup)).to.throw(WorkloadError, /env Y: valueFrom needs/);
  });

  it('runs the anchorlb entrypoint from this checkout, and other commands as written', () => {
    const entry = ['/usr/bin/node', '/repo/bin/anchorlb.js'];
    expect(commandLine({ name: 'c', args: ['speaker', '--node-name', '$(NODE_NAME)'] }, { NODE_NAME: 'node1' }, entry)).to.deep.equal([...entry, 'speaker', '--node-name', 'node1']);
    expect(commandLine({ name: 'c', command: ['sleep'], args: ['5'] }, {}, entry)).to.deep.equal(['sleep', '5']);
    expect(() => commandLine({ name: 'c', command: [] }, {}, entry)).to.throw(WorkloadError, /empty command/);
  });

  it('finds a probe port by number or by the container port name', () => {
    const container: Container = { name: 'c', ports: [{ name: 'metrics', containerPort: 7473 }] };
    expect(probePort(container, 'metrics')).to.equal(7473);
    expect(probePort(container, 8080)).to.equal(8080);
    expect(probePort(container, '9090')).to.equal(9090);
    expect(() => probePort(container, 'http')).to.throw(WorkloadError, /port "http" names no container port/);
  });

  it('expands $$ to a literal dollar only before a reference', () => {
    expect(expandReferences('cost $$5 $(A)', { A: 'x' })).to.equal('cost $5 x');
  });
});

describe('node agent: workload status', () => {
  it('reports a DaemonSet rolled out and ready only when every desired pod runs the current template and is ready', () => {
    const daemonSet = speakerDaemonSet();
    const current = templateHash(daemonSet.spec.template);
    const status = daemonSetStatus(daemonSet, 3, [
      { templateHash: current, ready: true, available: true },
      { templateHash: current, ready: false, available: false },
      { templateHash: 'old', ready: true, available: true },
    ]);
    expect(status).to.deep.equal({
      observedGeneration: 3,
      desiredNumberScheduled: 3,
      currentNumberScheduled: 3,
      updatedNumberScheduled: 2,
      numberReady: 2,
      numberAvailable: 2,
      numberUnavailable: 1,
      numberMisscheduled: 0,
    });
  });

  it('marks a one-replica Deployment Available only once its pod is ready, and Progressing complete once updated', () => {
    const deployment = controllerDeployment(1, { type: 'Recreate' });
    const current = templateHash(deployment.spec.template);
    const starting = deploymentStatus(deployment, [{ templateHash: current, ready: false, available: false }]);
    expect(starting.conditions.find((c) => c.type === 'Available')?.status).to.equal('False');
    expect(starting).to.include({ observedGeneration: 2, replicas: 1, updatedReplicas: 1, readyReplicas: 0, availableReplicas: 0, unavailableReplicas: 1 });
    const ready = deploymentStatus(deployment, [{ templateHash: current, ready: true, available: true }]);
    expect(ready.conditions.map((c) => [c.type, c.status, c.reason])).to.deep.equal([
      ['Available', 'True', 'MinimumReplicasAvailable'],
      ['Progressing', 'True', 'NewReplicaSetAvailable'],
    ]);
    expect(deploymentStatus(deployment, []).conditions[0]?.status).to.equal('False');
  });

  it('keeps a rolling Deployment Available while no more than maxUnavailable pods are down', () => {
    const deployment = controllerDeployment(4, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
    const current = templateHash(deployment.spec.template);
    const pod = (ready: boolean) => ({ templateHash: current, ready, available: ready });
    expect(deploymentStatus(deployment, [pod(true), pod(true), pod(true), pod(false)]).conditions[0]?.status).to.equal('True');
    expect(deploymentStatus(deployment, [pod(true), pod(true), pod(false), pod(false)]).conditions[0]?.status).to.equal('False');
  });
});

describe('node agent: rollout steps', () => {
  const threeNodes: NodeInfo[] = ['node1', 'node2', 'node3'].map((name, i) => ({ name, labels: linux, address: `192.0.2.${11 + i}` }));
  const slots = placePods([speakerDaemonSet()], threeNodes);
  const running = (hash: (node: string) => string, ready: (node: string) => boolean) =>
    new Map<string, RunningPod>(slots.map((slot) => [slot.key, { templateHash: hash(slot.nodeName), nodeName: slot.nodeName, ready: ready(slot.nodeName) }]));
  const keys = (list: { key: string }[]) => list.map((slot) => slot.key);
  const current = slots[0]?.templateHash ?? '';

  it('starts every missing pod at once, whatever the budget', () => {
    expect(keys(rolloutActions(slots, new Map(), new Set()).start)).to.deep.equal(keys(slots));
  });

  it('replaces one ready out-of-date pod at a time (maxUnavailable 1), and none while another is being replaced', () => {
    const stale = running(() => 'old', () => true);
    expect(keys(rolloutActions(slots, stale, new Set()).replace)).to.deep.equal(['lb/speaker/node1']);
    expect(rolloutActions(slots, stale, new Set(['lb/speaker/node1'])).replace).to.deep.equal([]);
  });

  it('waits for the replaced pod to be ready before the next one', () => {
    const oneUpdated = running((node) => (node === 'node1' ? current : 'old'), (node) => node !== 'node1');
    expect(rolloutActions(slots, oneUpdated, new Set()).replace).to.deep.equal([]);
    const readyAgain = running((node) => (node === 'node1' ? current : 'old'), () => true);
    expect(keys(rolloutActions(slots, readyAgain, new Set()).replace)).to.deep.equal(['lb/speaker/node2']);
  });

  it('replaces an out-of-date pod that is not ready at once: it serves nothing', () => {
    const crashing = running(() => 'old', () => false);
    expect(keys(rolloutActions(slots, crashing, new Set()).replace)).to.deep.equal(keys(slots));
  });

  it('leaves current pods alone, and replaces every pod of a Recreate Deployment together', () => {
    expect(rolloutActions(slots, running(() => current, () => true), new Set())).to.deep.equal({ start: [], replace: [] });
    const deploymentSlots = placePods([controllerDeployment(2, { type: 'Recreate' })], threeNodes);
    const old = new Map<string, RunningPod>(deploymentSlots.map((slot) => [slot.key, { templateHash: 'old', nodeName: slot.nodeName, ready: true }]));
    expect(keys(rolloutActions(deploymentSlots, old, new Set()).replace)).to.deep.equal(keys(deploymentSlots));
  });
});
