/**
 * The anchorlb image (`make image`) and a kubelet's part for running one of its pods in a
 * real container: podman with runc (test/support/containers/containers.conf), given the pod
 * spec exactly as rendered. `podRunArgs` is the pure translation of that spec into
 * `podman run` flags, following what a kubelet asks of its container runtime; a pod-spec
 * field it does not know is an error, so a new field in the rendering fails here first
 * instead of being silently left out.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './apiserver.ts';
import { run, type ExecResult } from './testbed.ts';

export const CONTAINERS_CONF = join(REPO_ROOT, 'test/support/containers/containers.conf');

/** dist/image/image.json, as scripts/image/write-oci.ts writes it. */
export interface BuiltImage {
  name: string;
  version: string;
  manifestDigest: string;
  layout: string;
  archive: string;
  compressedBytes: number;
  uncompressedBytes: number;
}

export async function readImageSummary(dir: string): Promise<BuiltImage> {
  return JSON.parse(await readFile(join(dir, 'image.json'), 'utf8')) as BuiltImage;
}

/** `make image` (a no-op when nothing changed): the image in dist/image and in podman's storage. */
export async function ensureImage(): Promise<BuiltImage> {
  await run(['make', '-s', '-C', REPO_ROOT, 'image'], { timeoutMs: 900_000 });
  return readImageSummary(join(REPO_ROOT, 'dist/image'));
}

/** podman with the project's containers.conf (runc, rlimits root may set here). */
export function podman(args: readonly string[], options: { allowFailure?: boolean; timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
  return run(['env', `CONTAINERS_CONF=${CONTAINERS_CONF}`, 'podman', ...args], { timeoutMs: 120_000, ...options });
}

interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}

interface Volume {
  name: string;
  emptyDir?: { sizeLimit?: string; medium?: string };
  hostPath?: { path: string; type?: string };
}

export interface RenderedContainer {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  securityContext?: SecurityContext;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  resources?: { limits?: { memory?: string } };
  [field: string]: unknown;
}

export interface RenderedPodSpec {
  hostNetwork?: boolean;
  securityContext?: SecurityContext;
  volumes?: Volume[];
  containers: RenderedContainer[];
  terminationGracePeriodSeconds?: number;
  automountServiceAccountToken?: boolean;
  [field: string]: unknown;
}

export interface PodRunOptions {
  /** Container name (podman's, for logs and removal). */
  name: string;
  /** The image to run (the rendered one, as stored by `make image`). */
  image: string;
  /** The network namespace standing for the pod's network, or the node's with hostNetwork. */
  netns: string;
  /** The container's environment, resolved as a kubelet does (src/localcluster/workloads.ts resolveEnv). */
  env: Readonly<Record<string, string>>;
  /** Host directory holding the service account's token, ca.crt and namespace (mounted read-only where a kubelet projects them). */
  serviceAccountDir: string;
}

/** Fields of the pod and container specs a kubelet's runtime settings depend on and this translation handles. */
const POD_FIELDS = new Set(['hostNetwork', 'securityContext', 'volumes', 'containers', 'terminationGracePeriodSeconds', 'automountServiceAccountToken', 'serviceAccountName', 'dnsPolicy', 'nodeSelector', 'tolerations', 'affinity', 'priorityClassName']);
const CONTAINER_FIELDS = new Set(['name', 'image', 'command', 'args', 'env', 'ports', 'livenessProbe', 'readinessProbe', 'securityContext', 'resources', 'volumeMounts', 'imagePullPolicy']);
const SECURITY_FIELDS = new Set(['runAsUser', 'runAsGroup', 'runAsNonRoot', 'allowPrivilegeEscalation', 'readOnlyRootFilesystem', 'capabilities', 'seccompProfile']);
const SERVICE_ACCOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';

function unknownFields(where: string, object: object, known: ReadonlySet<string>): void {
  const unknown = Object.keys(object).filter((key) => !known.has(key));
  if (unknown.length > 0) throw new Error(`${where}: ${unknown.join(', ')} not handled by podRunArgs (test/support/image.ts): teach it what a kubelet does with them`);
}

/** A Kubernetes quantity (Mi, Gi, M, plain bytes) as podman's bytes. */
function bytes(quantity: string, where: string): string {
  const match = /^(\d+)(Ki|Mi|Gi|k|M|G)?$/.exec(quantity);
  if (!match) throw new Error(`${where}: quantity ${JSON.stringify(quantity)} not understood`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, k: 1e3, M: 1e6, G: 1e9 }[match[2] ?? ''] ?? 1;
  return String(Number(match[1]) * unit);
}

/** `podman run` arguments (before the image) and the command after it, for the pod's one container. */
export function podRunArgs(spec: RenderedPodSpec, options: PodRunOptions): string[] {
  unknownFields('pod spec', spec, POD_FIELDS);
  if (spec.containers.length !== 1) throw new Error(`pod spec: ${spec.containers.length} containers, podRunArgs runs exactly one`);
  const container = spec.containers[0] as RenderedContainer;
  unknownFields(`container ${container.name}`, container, CONTAINER_FIELDS);
  const security = { ...spec.securityContext, ...container.securityContext };
  unknownFields(`container ${container.name} securityContext`, security, SECURITY_FIELDS);
  const args = ['run', '--rm', '--name', options.name, '--network', `ns:/run/netns/${options.netns}`, '--pull', 'never'];

  // User: the rendered one, else the image's. runAsNonRoot is checked as a kubelet does.
  if (security.runAsUser !== undefined) args.push('--user', security.runAsGroup === undefined ? String(security.runAsUser) : `${security.runAsUser}:${security.runAsGroup}`);
  if (security.runAsNonRoot === true && security.runAsUser === 0) throw new Error(`container ${container.name}: runAsNonRoot with runAsUser 0 (a kubelet refuses to start it)`);
  // Capabilities: the runtime's default set, minus drop, plus add (ALL drops every one).
  for (const capability of security.capabilities?.drop ?? []) args.push('--cap-drop', capability);
  for (const capability of security.capabilities?.add ?? []) args.push('--cap-add', capability);
  if (security.allowPrivilegeEscalation === false) args.push('--security-opt', 'no-new-privileges');
  if (security.seccompProfile !== undefined && security.seccompProfile.type !== 'RuntimeDefault') throw new Error(`container ${container.name}: seccompProfile ${security.seccompProfile.type} not handled`);
  // A read-only root means exactly that: no tmpfs podman would otherwise add on /tmp, /run, /var/tmp.
  if (security.readOnlyRootFilesystem === true) args.push('--read-only', '--read-only-tmpfs=false');

  const volumes = new Map((spec.volumes ?? []).map((volume) => [volume.name, volume]));
  for (const mount of container.volumeMounts ?? []) {
    const volume = volumes.get(mount.name);
    if (!volume) throw new Error(`container ${container.name}: volumeMount ${mount.name} names no volume`);
    const mode = mount.readOnly === true ? 'ro' : 'rw';
    if (volume.emptyDir) {
      const size = volume.emptyDir.sizeLimit === undefined ? '' : `,size=${bytes(volume.emptyDir.sizeLimit, `volume ${volume.name} sizeLimit`)}`;
      // An emptyDir is writable by every user of the pod (the kubelet makes it 0777).
      args.push('--tmpfs', `${mount.mountPath}:${mode},mode=1777${size}`);
    } else if (volume.hostPath) {
      args.push('--volume', `${volume.hostPath.path}:${mount.mountPath}:${mode}`);
    } else {
      throw new Error(`container ${container.name}: volume ${volume.name} is of a kind podRunArgs does not handle`);
    }
  }
  if (spec.automountServiceAccountToken !== false) args.push('--volume', `${options.serviceAccountDir}:${SERVICE_ACCOUNT_PATH}:ro`);

  const memory = container.resources?.limits?.memory;
  if (memory !== undefined) args.push('--memory', bytes(memory, `container ${container.name} resources.limits.memory`));
  if (spec.terminationGracePeriodSeconds !== undefined) args.push('--stop-timeout', String(spec.terminationGracePeriodSeconds));
  for (const [name, value] of Object.entries(options.env)) args.push('--env', `${name}=${value}`);
  if (container.command !== undefined) args.push('--entrypoint', JSON.stringify(container.command));
  return [...args, options.image, ...(container.args ?? [])];
}
