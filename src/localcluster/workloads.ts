/**
 * What a kubelet (plus the Deployment and DaemonSet controllers) would derive from
 * workloads, as pure functions for the node agent: which pod goes on which node,
 * a container's command line and environment, and the workloads' status.
 */
import { createHash } from 'node:crypto';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
  };
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

export interface HttpProbe {
  httpGet?: { path?: string; port: number | string; scheme?: string };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  failureThreshold?: number;
  successThreshold?: number;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: ContainerPort[];
  readinessProbe?: HttpProbe;
  livenessProbe?: HttpProbe;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

export interface PodSpec {
  serviceAccountName?: string;
  hostNetwork?: boolean;
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  terminationGracePeriodSeconds?: number;
  containers: Container[];
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec: PodSpec;
}

export interface Workload {
  kind: 'Deployment' | 'DaemonSet';
  metadata: { name: string; namespace: string; generation?: number; uid?: string };
  spec: {
    replicas?: number;
    strategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string } };
    updateStrategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string } };
    template: PodTemplate;
  };
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
  taints?: Taint[];
  /** The node's address: a hostNetwork pod's IP, and every pod's hostIP here. */
  address: string;
}

/** One pod the agent should run: a Deployment replica or a DaemonSet's pod on one node. */
export interface PodSlot {
  /** Stable across template changes: `namespace/owner/node` (DaemonSet) or `namespace/owner/index` (Deployment). */
  key: string;
  owner: Workload;
  nodeName: string;
  /** Changes whenever the pod template changes: a running pod with another hash is out of date. */
  templateHash: string;
  podName: string;
}

export class WorkloadError extends Error {}

export function templateHash(template: PodTemplate): string {
  return createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 10);
}

function selectorMatches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return Object.entries(selector ?? {}).every(([key, value]) => labels[key] === value);
}

function tolerates(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((toleration) => {
    if (toleration.effect && toleration.effect !== taint.effect) return false;
    // An empty key with Exists tolerates every taint.
    if (!toleration.key) return toleration.operator === 'Exists';
    if (toleration.key !== taint.key) return false;
    return toleration.operator === 'Exists' || (toleration.value ?? '') === (taint.value ?? '');
  });
}

/** Whether a pod with this spec may run on the node: nodeSelector labels match and every NoSchedule/NoExecute taint is tolerated. */
export function schedulable(spec: PodSpec, node: NodeInfo): boolean {
  if (!selectorMatches(spec.nodeSelector, node.labels)) return false;
  return (node.taints ?? []).every((taint) => taint.effect === 'PreferNoSchedule' || tolerates(spec.tolerations ?? [], taint));
}

/**
 * Every pod the workloads ask for: one per eligible node for a DaemonSet, `replicas`
 * spread round-robin over the eligible nodes (by name) for a Deployment.
 */
export function placePods(workloads: readonly Workload[], nodes: readonly NodeInfo[]): PodSlot[] {
  const sortedNodes = [...nodes].sort((a, b) => a.name.localeCompare(b.name));
  const slots: PodSlot[] = [];
  for (const owner of workloads) {
    const { name, namespace } = owner.metadata;
    const hash = templateHash(owner.spec.template);
    const eligible = sortedNodes.filter((node) => schedulable(owner.spec.template.spec, node));
    if (owner.kind === 'DaemonSet') {
      for (const node of eligible) slots.push({ key: `${namespace}/${name}/${node.name}`, owner, nodeName: node.name, templateHash: hash, podName: `${name}-${node.name}` });
      continue;
    }
    const replicas = owner.spec.replicas ?? 1;
    if (eligible.length === 0) continue;
    for (let index = 0; index < replicas; index += 1) {
      const node = eligible[index % eligible.length] as NodeInfo;
      slots.push({ key: `${namespace}/${name}/${index}`, owner, nodeName: node.name, templateHash: hash, podName: `${name}-${hash.slice(0, 5)}-${index}` });
    }
  }
  return slots;
}

/** `rollingUpdate.maxUnavailable` as a pod count (k8s rounds percentages down); 0 for Recreate. */
export function unavailableAllowance(owner: Workload, desired: number): number {
  const strategy = owner.kind === 'DaemonSet' ? owner.spec.updateStrategy : owner.spec.strategy;
  if (strategy?.type === 'Recreate') return 0;
  const value = strategy?.rollingUpdate?.maxUnavailable ?? (owner.kind === 'DaemonSet' ? 1 : '25%');
  if (typeof value === 'number') return value;
  const percent = /^(\d+)%$/.exec(value);
  if (!percent?.[1]) throw new WorkloadError(`${owner.kind} ${owner.metadata.namespace}/${owner.metadata.name}: rollingUpdate.maxUnavailable ${JSON.stringify(value)} is neither a number nor a percentage`);
  return Math.floor((desired * Number(percent[1])) / 100);
}

/**
 * How many out-of-date pods may be replaced at once. Recreate replaces all together; a rolling
 * update at least one (the agent never surges: a node port or a VIP cannot be held twice).
 */
export function rolloutBatch(owner: Workload, desired: number): number {
  const strategy = owner.kind === 'DaemonSet' ? owner.spec.updateStrategy : owner.spec.strategy;
  if (strategy?.type === 'Recreate') return Math.max(desired, 1);
  return Math.max(unavailableAllowance(owner, desired), 1);
}

/** What the agent runs for a slot now. */
export interface RunningPod {
  templateHash: string;
  nodeName: string;
  ready: boolean;
}

export interface RolloutActions {
  /** Slots without a pod: started now (a missing pod serves nothing, so no budget applies). */
  start: PodSlot[];
  /** Out-of-date pods to stop and start again from the current template now. */
  replace: PodSlot[];
}

/**
 * One workload's next rollout step. Pods being replaced (`busy`), missing or not ready count as
 * unavailable; out-of-date ready pods are replaced only while fewer than `rolloutBatch` are
 * unavailable, out-of-date unready ones at once (they serve nothing).
 */
export function rolloutActions(slots: readonly PodSlot[], running: ReadonlyMap<string, RunningPod>, busy: ReadonlySet<string>): RolloutActions {
  const actions: RolloutActions = { start: [], replace: [] };
  const first = slots[0];
  if (!first) return actions;
  let budget = rolloutBatch(first.owner, slots.length) - slots.filter((slot) => busy.has(slot.key) || running.get(slot.key)?.ready !== true).length;
  for (const slot of slots) {
    if (busy.has(slot.key)) continue;
    const pod = running.get(slot.key);
    if (!pod) actions.start.push(slot);
    else if (pod.templateHash !== slot.templateHash || pod.nodeName !== slot.nodeName) {
      if (!pod.ready) actions.replace.push(slot);
      else if (budget > 0) {
        budget -= 1;
        actions.replace.push(slot);
      }
    }
  }
  return actions;
}

/** What a pod's downward API can see. */
export interface PodFields {
  podName: string;
  namespace: string;
  nodeName: string;
  podIP: string;
  hostIP: string;
  serviceAccountName: string;
}

/** Reads one key of a Secret or ConfigMap in the pod's namespace (Secret values already decoded); undefined when absent. */
export type ObjectKeyLookup = (kind: 'Secret' | 'ConfigMap', name: string, key: string) => string | undefined;

const FIELD_PATHS: Record<string, (fields: PodFields) => string> = {
  'metadata.name': (f) => f.podName,
  'metadata.namespace': (f) => f.namespace,
  'spec.nodeName': (f) => f.nodeName,
  'spec.serviceAccountName': (f) => f.serviceAccountName,
  'status.podIP': (f) => f.podIP,
  'status.hostIP': (f) => f.hostIP,
};

/** The Secrets and ConfigMaps a container's env refers to, so the caller can fetch them first. */
export function referencedObjects(container: Container): Array<{ kind: 'Secret' | 'ConfigMap'; name: string }> {
  const refs = new Map<string, { kind: 'Secret' | 'ConfigMap'; name: string }>();
  for (const variable of container.env ?? []) {
    const secret = variable.valueFrom?.secretKeyRef;
    const configMap = variable.valueFrom?.configMapKeyRef;
    if (secret) refs.set(`Secret/${secret.name}`, { kind: 'Secret', name: secret.name });
    if (configMap) refs.set(`ConfigMap/${configMap.name}`, { kind: 'ConfigMap', name: configMap.name });
  }
  return [...refs.values()];
}

/** `$(NAME)` replaced by an earlier variable's value, `$$(NAME)` kept literally, unknown names left as written (as the kubelet does). */
export function expandReferences(text: string, variables: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (name === undefined) return '$';
    return Object.hasOwn(variables, name) ? (variables[name] as string) : match;
  });
}

/** The container's environment, in order; an unknown fieldPath or a missing non-optional key is an error naming the variable. */
export function resolveEnv(container: Container, fields: PodFields, lookup: ObjectKeyLookup): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    const where = `container ${container.name} env ${variable.name}`;
    const from = variable.valueFrom;
    if (!from) {
      resolved[variable.name] = expandReferences(variable.value ?? '', resolved);
      continue;
    }
    if (from.fieldRef) {
      const field = FIELD_PATHS[from.fieldRef.fieldPath];
      if (!field) throw new WorkloadError(`${where}: fieldRef.fieldPath ${JSON.stringify(from.fieldRef.fieldPath)} is not supported (one of ${Object.keys(FIELD_PATHS).join(', ')})`);
      resolved[variable.name] = field(fields);
      continue;
    }
    const [kind, ref] = from.secretKeyRef ? (['Secret', from.secretKeyRef] as const) : from.configMapKeyRef ? (['ConfigMap', from.configMapKeyRef] as const) : [undefined, undefined];
    if (!kind) throw new WorkloadError(`${where}: valueFrom needs fieldRef, secretKeyRef or configMapKeyRef`);
    const value = lookup(kind, ref.name, ref.key);
    if (value !== undefined) resolved[variable.name] = value;
    else if (ref.optional !== true) throw new WorkloadError(`${where}: ${kind} ${fields.namespace}/${ref.name} has no key ${JSON.stringify(ref.key)}`);
  }
  return resolved;
}

/**
 * The argv to run for a container: `command` (else the image's entrypoint, `anchorlb` for
 * our image) then `args`, with `$(VAR)` expanded; `anchorlb` is this checkout's bin/anchorlb.js.
 */
export function commandLine(container: Container, env: Readonly<Record<string, string>>, anchorlbArgv: readonly string[]): string[] {
  const command = container.command ?? ['anchorlb'];
  const argv = [...command, ...(container.args ?? [])].map((part) => expandReferences(part, env));
  const [program, ...rest] = argv;
  if (program === undefined) throw new WorkloadError(`container ${container.name}: empty command`);
  return program === 'anchorlb' ? [...anchorlbArgv, ...rest] : argv;
}

/** The port a probe targets: a number, or the name of one of the container's ports. */
export function probePort(container: Container, port: number | string): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = container.ports?.find((candidate) => candidate.name === port);
  if (!named) throw new WorkloadError(`container ${container.name}: readinessProbe port ${JSON.stringify(port)} names no container port`);
  return named.containerPort;
}

/** What the agent knows of one pod it runs. */
export interface PodState {
  templateHash: string;
  ready: boolean;
  /** Ready for at least minReadySeconds (0 here): available. */
  available: boolean;
}

export interface DeploymentStatus {
  observedGeneration: number;
  replicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  unavailableReplicas: number;
  conditions: Array<{ type: string; status: 'True' | 'False'; reason: string; message: string }>;
}

export interface DaemonSetStatus {
  observedGeneration: number;
  desiredNumberScheduled: number;
  currentNumberScheduled: number;
  updatedNumberScheduled: number;
  numberReady: number;
  numberAvailable: number;
  numberUnavailable: number;
  numberMisscheduled: number;
}

/** Deployment status from its pods (conditions without timestamps: the caller adds them on change). */
export function deploymentStatus(owner: Workload, pods: readonly PodState[]): DeploymentStatus {
  const desired = owner.spec.replicas ?? 1;
  const hash = templateHash(owner.spec.template);
  const ready = pods.filter((pod) => pod.ready).length;
  const available = pods.filter((pod) => pod.available).length;
  const updated = pods.filter((pod) => pod.templateHash === hash).length;
  const isAvailable = available >= desired - unavailableAllowance(owner, desired);
  const complete = updated >= desired && available >= desired && pods.length === desired;
  return {
    observedGeneration: owner.metadata.generation ?? 1,
    replicas: pods.length,
    updatedReplicas: updated,
    readyReplicas: ready,
    availableReplicas: available,
    unavailableReplicas: Math.max(desired - available, 0),
    conditions: [
      {
        type: 'Available',
        status: isAvailable ? 'True' : 'False',
        reason: isAvailable ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
        message: isAvailable ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
      },
      {
        type: 'Progressing',
        status: 'True',
        reason: complete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated',
        message: complete ? `pods of ${owner.metadata.name} are up to date and available` : `${updated}/${desired} pods updated, ${available} available`,
      },
    ],
  };
}

/** DaemonSet status from its pods and the number of nodes it should run on. */
export function daemonSetStatus(owner: Workload, desiredNodes: number, pods: readonly PodState[]): DaemonSetStatus {
  const hash = templateHash(owner.spec.template);
  const available = pods.filter((pod) => pod.available).length;
  return {
    observedGeneration: owner.metadata.generation ?? 1,
    desiredNumberScheduled: desiredNodes,
    currentNumberScheduled: Math.min(pods.length, desiredNodes),
    updatedNumberScheduled: pods.filter((pod) => pod.templateHash === hash).length,
    numberReady: pods.filter((pod) => pod.ready).length,
    numberAvailable: available,
    numberUnavailable: Math.max(desiredNodes - available, 0),
    numberMisscheduled: Math.max(pods.length - desiredNodes, 0),
  };
}
