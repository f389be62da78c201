/**
 * Desired state of one installation: everything the operator creates from an
 * AnchorLB, as plain manifests. Pure: no I/O, no clock, no randomness (the
 * liveness key comes from the caller).
 */
import { createHash } from 'node:crypto';
import { API_VERSION, KIND_ANCHOR_LB, type AnchorLB } from '../api/index.ts';
import { IMAGE } from '../common/version.ts';
import { BIND_STATE_DIR } from '../speaker/bind.ts';

/** A Kubernetes object as the operator writes it. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: ManifestMetadata;
  [field: string]: unknown;
}

export interface ManifestMetadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  resourceVersion?: string;
  [field: string]: unknown;
}

interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
  blockOwnerDeletion: boolean;
}

/** The image of this version (`make image`), unless the AnchorLB names another. */
export const DEFAULT_IMAGE = IMAGE;
export const LIVENESS_SECRET_NAME = 'anchorlb-liveness';
const LIVENESS_SECRET_KEY = 'key';
export const CONTROLLER_NAME = 'anchorlb-controller';
export const SPEAKER_NAME = 'anchorlb-speaker';
const DEFAULT_CONTROLLER_METRICS_PORT = 7472;
const DEFAULT_SPEAKER_METRICS_PORT = 7473;
const DEFAULT_RESOURCES = { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } };
const SPEAKER_DEFAULT_RESOURCES = { requests: { cpu: '50m', memory: '256Mi' }, limits: { memory: '512Mi' } };
const DEFAULT_LIVENESS_PORT = 7947;

export const LABELS = {
  name: 'app.kubernetes.io/name',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  /** `namespace.name` of the AnchorLB an object belongs to (cluster-scoped objects cannot have a namespaced owner reference). */
  owner: 'anchorlb.io/owner',
} as const;
export const MANAGED_BY = 'anchorlb-operator';
/** Hash of what the operator last wrote: an object is rewritten only when its rendering changes, not for fields the server defaults. */
export const DESIRED_HASH_ANNOTATION = 'anchorlb.io/desired-hash';

export interface RenderInput {
  anchorlb: AnchorLB;
  /** The controller's and speaker's RBAC objects as in config/rbac (namespaces there are replaced). */
  rbacTemplates: readonly Manifest[];
  /** The Secrets the BGPPeers name as passwordSecret in the AnchorLB's namespace: the speaker may read those and the liveness key, no other. */
  speakerSecretNames: readonly string[];
  /** Whether the liveness Secret exists already: it is generated once and never rewritten. */
  livenessSecretExists: boolean;
  /** A new random liveness key, called only when the Secret is missing. */
  generateLivenessKey: () => Buffer;
}

export function ownerLabelValue(anchorlb: AnchorLB): string {
  return `${anchorlb.metadata.namespace ?? ''}.${anchorlb.metadata.name ?? ''}`;
}

function namespaceOf(anchorlb: AnchorLB): string {
  const namespace = anchorlb.metadata.namespace;
  if (!namespace) throw new Error(`AnchorLB ${anchorlb.metadata.name}: metadata.namespace is missing (AnchorLB is namespaced)`);
  return namespace;
}

const CLUSTER_SCOPED_KINDS = new Set(['ClusterRole', 'ClusterRoleBinding']);

function isClusterScoped(manifest: Manifest): boolean {
  return CLUSTER_SCOPED_KINDS.has(manifest.kind);
}

/** Every object of the installation, in creation order (accounts and permissions before workloads). */
export function render(input: RenderInput): Manifest[] {
  const { anchorlb } = input;
  const namespace = namespaceOf(anchorlb);
  const objects: Manifest[] = input.rbacTemplates.map((template) => withSpeakerSecrets(placeRbac(template, namespace), input.speakerSecretNames));
  if (!input.livenessSecretExists) objects.push(livenessSecret(namespace, input.generateLivenessKey()));
  objects.push(controllerDeployment(anchorlb, namespace), speakerDaemonSet(anchorlb, namespace));
  return objects.map((object) => finish(object, anchorlb));
}

/** The templates' namespace replaced by the installation's, in the object and in its subjects. */
function placeRbac(template: Manifest, namespace: string): Manifest {
  const placed = structuredClone(template);
  if (!isClusterScoped(placed)) placed.metadata.namespace = namespace;
  if (Array.isArray(placed.subjects)) {
    placed.subjects = placed.subjects.map((subject: unknown) =>
      typeof subject === 'object' && subject !== null && (subject as { kind?: unknown }).kind === 'ServiceAccount' ? { ...subject, namespace } : subject,
    );
  }
  return placed;
}

interface PolicyRule {
  resources?: string[];
  resourceNames?: string[];
}

/**
 * The speaker's Role reads Secrets by name only: the liveness key and the BGPPeers' passwords
 * (resourceNames is never left empty, which would mean every Secret).
 */
function withSpeakerSecrets(object: Manifest, names: readonly string[]): Manifest {
  if (object.kind !== 'Role' || object.metadata.name !== SPEAKER_NAME || !Array.isArray(object.rules)) return object;
  const rules = (object.rules as PolicyRule[]).map((rule) =>
    rule.resources?.includes('secrets') ? { ...rule, resourceNames: [...new Set([...(rule.resourceNames ?? []), LIVENESS_SECRET_NAME, ...names])].sort() } : rule,
  );
  return { ...object, rules };
}

function componentOf(object: Manifest): string {
  if (object.metadata.name === CONTROLLER_NAME) return 'controller';
  if (object.metadata.name === SPEAKER_NAME) return 'speaker';
  return 'installation';
}

/** Labels, owner reference (namespaced objects only) and the hash of the rendering. */
function finish(object: Manifest, anchorlb: AnchorLB): Manifest {
  const metadata: ManifestMetadata = {
    ...object.metadata,
    labels: {
      ...object.metadata.labels,
      [LABELS.name]: 'anchorlb',
      [LABELS.component]: componentOf(object),
      [LABELS.managedBy]: MANAGED_BY,
      [LABELS.owner]: ownerLabelValue(anchorlb),
    },
  };
  if (!isClusterScoped(object) && anchorlb.metadata.uid) {
    metadata.ownerReferences = [
      { apiVersion: API_VERSION, kind: KIND_ANCHOR_LB, name: anchorlb.metadata.name ?? '', uid: anchorlb.metadata.uid, controller: true, blockOwnerDeletion: true },
    ];
  }
  const finished: Manifest = { ...object, metadata };
  const hash = createHash('sha256').update(JSON.stringify(finished)).digest('hex').slice(0, 16);
  finished.metadata.annotations = { ...metadata.annotations, [DESIRED_HASH_ANNOTATION]: hash };
  return finished;
}

function livenessSecret(namespace: string, key: Buffer): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: LIVENESS_SECRET_NAME, namespace },
    type: 'Opaque',
    data: { [LIVENESS_SECRET_KEY]: key.toString('base64') },
  };
}

const POD_NAMESPACE_ENV = { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } };
const NODE_NAME_ENV = { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } };

function probes(port: number): { livenessProbe: object; readinessProbe: object; ports: object[] } {
  return {
    livenessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, initialDelaySeconds: 5, periodSeconds: 10, failureThreshold: 3 },
    readinessProbe: { httpGet: { path: '/readyz', port: 'metrics' }, periodSeconds: 5, failureThreshold: 3 },
    ports: [{ name: 'metrics', containerPort: port, protocol: 'TCP' }],
  };
}

/** The root filesystem is read-only; the TypeScript loader and Node still want a writable /tmp. */
const SCRATCH_VOLUME = { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } };
const SCRATCH_MOUNT = { name: 'tmp', mountPath: '/tmp' };
/**
 * The speaker's record of the addresses it bound (bindToInterface), at the same path on the host:
 * it must outlive the pod, so that a restarted speaker removes what a killed one left, and go with
 * a reboot, as the addresses do (the host's /run is tmpfs).
 */
const BIND_RECORDS_VOLUME = { name: 'bind-records', hostPath: { path: BIND_STATE_DIR, type: 'DirectoryOrCreate' } };
const BIND_RECORDS_MOUNT = { name: 'bind-records', mountPath: BIND_STATE_DIR };

function logLevelOf(anchorlb: AnchorLB): string {
  return anchorlb.spec?.logLevel ?? 'info';
}

function selectorLabels(component: string): Record<string, string> {
  return { [LABELS.name]: 'anchorlb', [LABELS.component]: component };
}

/** Pod fields set only when the AnchorLB sets them. */
function optionalPodFields(fields: { priorityClassName?: string; affinity?: object }): object {
  return {
    ...(fields.priorityClassName ? { priorityClassName: fields.priorityClassName } : {}),
    ...(fields.affinity && Object.keys(fields.affinity).length > 0 ? { affinity: fields.affinity } : {}),
  };
}

function controllerDeployment(anchorlb: AnchorLB, namespace: string): Manifest {
  const controller = anchorlb.spec?.controller;
  const loadBalancerClass = anchorlb.spec?.loadBalancerClass;
  const metricsPort = controller?.metricsPort ?? DEFAULT_CONTROLLER_METRICS_PORT;
  const args = ['controller', '--pool-namespace', namespace, '--metrics-port', String(metricsPort)];
  if (loadBalancerClass) args.push('--load-balancer-class', loadBalancerClass);
  const { ports, ...probeFields } = probes(metricsPort);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: CONTROLLER_NAME, namespace },
    spec: {
      replicas: 1,
      // One allocator at a time: the old pod stops before the new one starts.
      strategy: { type: 'Recreate' },
      selector: { matchLabels: selectorLabels('controller') },
      template: {
        metadata: { labels: selectorLabels('controller') },
        spec: {
          serviceAccountName: CONTROLLER_NAME,
          ...optionalPodFields({ priorityClassName: controller?.priorityClassName }),
          securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
          volumes: [SCRATCH_VOLUME],
          containers: [
            {
              name: 'controller',
              image: controller?.image ?? DEFAULT_IMAGE,
              args,
              env: [{ name: 'ANCHORLB_LOG_LEVEL', value: logLevelOf(anchorlb) }, POD_NAMESPACE_ENV],
              ports,
              ...probeFields,
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              resources: controller?.resources ?? DEFAULT_RESOURCES,
              volumeMounts: [SCRATCH_MOUNT],
            },
          ],
        },
      },
    },
  };
}

function modesOf(anchorlb: AnchorLB): string {
  const modes = anchorlb.spec?.modes;
  return [modes?.l2 !== false ? 'l2' : undefined, modes?.bgp !== false ? 'bgp' : undefined].filter((mode) => mode !== undefined).join(',');
}

function speakerDaemonSet(anchorlb: AnchorLB, namespace: string): Manifest {
  const speaker = anchorlb.spec?.speaker;
  const liveness = anchorlb.spec?.liveness;
  const livenessPort = liveness?.port ?? DEFAULT_LIVENESS_PORT;
  const metricsPort = speaker?.metricsPort ?? DEFAULT_SPEAKER_METRICS_PORT;
  const { ports, ...probeFields } = probes(metricsPort);
  const env = [
    POD_NAMESPACE_ENV,
    NODE_NAME_ENV,
    { name: 'ANCHORLB_LOG_LEVEL', value: logLevelOf(anchorlb) },
    { name: 'ANCHORLB_LIVENESS_PORT', value: String(livenessPort) },
    { name: 'ANCHORLB_HEARTBEAT_INTERVAL', value: liveness?.heartbeatInterval ?? '100ms' },
    { name: 'ANCHORLB_MISSED_HEARTBEATS', value: String(liveness?.missedHeartbeats ?? 5) },
  ];
  const args = ['speaker', '--liveness-secret', LIVENESS_SECRET_NAME, '--metrics-port', String(metricsPort), '--modes', modesOf(anchorlb), '--log-level', logLevelOf(anchorlb)];
  if (anchorlb.spec?.loadBalancerClass) args.push('--load-balancer-class', anchorlb.spec.loadBalancerClass);
  const nodeSelector = Object.fromEntries(Object.entries(speaker?.nodeSelector ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined));
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: SPEAKER_NAME, namespace },
    spec: {
      selector: { matchLabels: selectorLabels('speaker') },
      // One node at a time, so BGP peers see one graceful restart after another and L2 owners hand over.
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels: selectorLabels('speaker') },
        spec: {
          serviceAccountName: SPEAKER_NAME,
          hostNetwork: true,
          dnsPolicy: 'ClusterFirstWithHostNet',
          // Time to announce "stopping" and let the successor take over before the pod goes.
          terminationGracePeriodSeconds: 30,
          nodeSelector,
          tolerations: speaker?.tolerations ?? [],
          ...optionalPodFields({ priorityClassName: speaker?.priorityClassName, affinity: speaker?.affinity }),
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          volumes: [SCRATCH_VOLUME, BIND_RECORDS_VOLUME],
          containers: [
            {
              name: 'speaker',
              image: speaker?.image ?? DEFAULT_IMAGE,
              args,
              env,
              ports: [...ports, { name: 'liveness', containerPort: livenessPort, protocol: 'UDP' }],
              ...probeFields,
              // Raw frames (ARP/NDP) and TCP-MD5 need root with these two capabilities; nothing else is added.
              securityContext: {
                runAsUser: 0,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'], add: ['NET_RAW', 'NET_ADMIN'] },
              },
              // Measured (issue 11, L2, one node): 210 MiB RSS idle, 272 MiB at peak taking 1,000 Services, above the former 256Mi limit.
              resources: speaker?.resources ?? SPEAKER_DEFAULT_RESOURCES,
              volumeMounts: [SCRATCH_MOUNT, BIND_RECORDS_MOUNT],
            },
          ],
        },
      },
    },
  };
}
