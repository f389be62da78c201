/**
 * The apply loop of one AnchorLB: re-derives the whole desired state on every
 * call (level-triggered), creates or rewrites what differs, reports status, and
 * on deletion removes everything it created before releasing the finalizer.
 */
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURALS, VERSION, formatProblem, validateAnchorLB, type AnchorLB, type AnchorLBStatus, type BGPPeer } from '../api/index.ts';
import type { Logger } from '../common/log.ts';
import { diagnose } from '../doctor/checks.ts';
import { collectSnapshot } from '../doctor/collect.ts';
import { KubeHttpError, KubeRest, type Query } from '../kube/rest.ts';
import type { ReconcileResult } from '../kube/workqueue.ts';
import {
  CONTROLLER_NAME,
  DESIRED_HASH_ANNOTATION,
  LABELS,
  LIVENESS_SECRET_NAME,
  SPEAKER_NAME,
  ownerLabelValue,
  render,
  type Manifest,
} from './render.ts';
import { passwordSecretNames } from '../speaker/cluster-state.ts';
import { holdsAll } from './drift.ts';
import { computeStatus, notServedStatus, type WorkloadState } from './status.ts';

export const FINALIZER = 'anchorlb.io/operator';

/** Where each kind the operator writes lives in the API. */
const COLLECTIONS: Record<string, { prefix: string; plural: string; namespaced: boolean }> = {
  ServiceAccount: { prefix: '/api/v1', plural: 'serviceaccounts', namespaced: true },
  Secret: { prefix: '/api/v1', plural: 'secrets', namespaced: true },
  Role: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'roles', namespaced: true },
  RoleBinding: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'rolebindings', namespaced: true },
  ClusterRole: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterrolebindings', namespaced: false },
  Deployment: { prefix: '/apis/apps/v1', plural: 'deployments', namespaced: true },
  DaemonSet: { prefix: '/apis/apps/v1', plural: 'daemonsets', namespaced: true },
};

/** Removed first on uninstall; their pods must be gone before anything else goes. */
const WORKLOAD_KINDS: readonly string[] = ['DaemonSet', 'Deployment'];
/** The pods of both workloads (their templates' labels). */
const POD_SELECTOR = `${LABELS.name}=anchorlb,${LABELS.component} in (controller,speaker)`;
/** How often an uninstall looks again while pods are stopping. */
const TEARDOWN_POLL_MS = 1_000;

function collectionPath(kind: string, namespace: string | undefined): string {
  const collection = COLLECTIONS[kind];
  if (!collection) throw new Error(`operator: no API path known for kind ${kind}`);
  return collection.namespaced ? `${collection.prefix}/namespaces/${encodeURIComponent(namespace ?? '')}/${collection.plural}` : `${collection.prefix}/${collection.plural}`;
}

function objectPath(manifest: Manifest): string {
  return `${collectionPath(manifest.kind, manifest.metadata.namespace)}/${encodeURIComponent(manifest.metadata.name)}`;
}

/** The BGPPeers of an installation's namespace: their passwordSecret names are what the speaker may read. */
export function bgpPeersPath(namespace: string): string {
  return `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${PLURALS.BGPPeer}`;
}

function anchorlbCollection(namespace: string): string {
  return `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${PLURALS.AnchorLB}`;
}

export function anchorlbPath(namespace: string, name: string): string {
  return `${anchorlbCollection(namespace)}/${encodeURIComponent(name)}`;
}

/** The AnchorLB served in a namespace: the oldest (creationTimestamp, then name). */
export function servedAnchorLB(items: readonly AnchorLB[]): AnchorLB | undefined {
  const key = (item: AnchorLB) => `${String(item.metadata.creationTimestamp ?? '')}\u0000${item.metadata.name ?? ''}`;
  return [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))[0];
}

/** How often an AnchorLB that is not served looks again (the served one may have gone). */
const NOT_SERVED_RECHECK_MS = 15_000;

async function orUndefined<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (error) {
    if (error instanceof KubeHttpError && error.statusCode === 404) return undefined;
    throw error;
  }
}

function describe(manifest: Manifest): string {
  return `${manifest.kind} ${manifest.metadata.namespace ? `${manifest.metadata.namespace}/` : ''}${manifest.metadata.name}`;
}

export interface InstallationReconcilerOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  rbacTemplates: readonly Manifest[];
  /** Writes the status subresource; the operator does it through its library. */
  writeStatus: (anchorlb: AnchorLB, status: AnchorLBStatus) => Promise<void>;
  generateLivenessKey?: () => Buffer;
  /** How often an installation is re-derived without any event (default 5 min). */
  resyncMs?: number;
}

export class InstallationReconciler {
  private readonly rest: KubeRest;
  /** Per AnchorLB, the last version that passed validation: what keeps running while an edit is invalid. */
  private readonly lastGood = new Map<string, AnchorLB>();

  constructor(private readonly options: InstallationReconcilerOptions) {
    this.rest = new KubeRest(options.kubeConfig);
  }

  /** Reconciles the AnchorLB `namespace/name`; throws to be retried with back-off. */
  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace = '', name = ''] = key.split('/');
    const anchorlb = await orUndefined(this.rest.getJson<AnchorLB>(anchorlbPath(namespace, name)));
    if (!anchorlb) {
      this.lastGood.delete(key);
      // Gone without our finalizer running (e.g. it was removed by hand): clean up what is left.
      return (await this.removeInstallation(namespace, `${namespace}.${name}`)) ? {} : { requeueAfterMs: TEARDOWN_POLL_MS };
    }
    const finalizers = anchorlb.metadata.finalizers ?? [];
    if (anchorlb.metadata.deletionTimestamp) {
      this.lastGood.delete(key);
      if (!finalizers.includes(FINALIZER)) return {};
      if (!(await this.removeInstallation(namespace, ownerLabelValue(anchorlb)))) return { requeueAfterMs: TEARDOWN_POLL_MS };
      await this.setFinalizers(anchorlb, finalizers.filter((finalizer) => finalizer !== FINALIZER));
      this.options.logger.info({ anchorlb: key }, 'installation removed');
      return {};
    }
    // One installation per namespace: the others are told so and never write (no fight over the objects).
    const served = servedAnchorLB((await this.rest.getJson<{ items?: AnchorLB[] }>(anchorlbCollection(namespace))).items ?? []);
    if (served && served.metadata.name !== name) {
      const status = notServedStatus(anchorlb.metadata.generation ?? 0, anchorlb.status, `${namespace}/${served.metadata.name ?? ''}`, new Date().toISOString());
      if (JSON.stringify(status.conditions?.map(({ lastTransitionTime: _, ...rest }) => rest)) !== JSON.stringify(anchorlb.status?.conditions?.map(({ lastTransitionTime: _, ...rest }) => rest))) {
        await this.options.writeStatus(anchorlb, status);
      }
      return { requeueAfterMs: NOT_SERVED_RECHECK_MS };
    }
    if (!finalizers.includes(FINALIZER)) await this.setFinalizers(anchorlb, [...finalizers, FINALIZER]);

    // An invalid spec is never rendered: the last good one keeps running, and the status says why.
    const problems = validateAnchorLB(anchorlb);
    let invalid: string | undefined;
    if (problems.length === 0) this.lastGood.set(key, anchorlb);
    const inForce = this.lastGood.get(key);
    if (problems.length > 0) {
      const kept = inForce
        ? `the rendering of generation ${inForce.metadata.generation ?? 0} keeps running`
        : 'nothing is rendered until it is corrected; what runs is left as it is';
      invalid = `${problems.map(formatProblem).join('; ')} (${kept})`;
    }
    let applyError: string | undefined;
    try {
      if (inForce) await this.applyAll(inForce, namespace);
    } catch (error) {
      applyError = error instanceof Error ? error.message : String(error);
    }
    await this.reportStatus(anchorlb, namespace, applyError, invalid);
    if (applyError !== undefined) throw new Error(`AnchorLB ${key}: ${applyError}`);
    return { requeueAfterMs: this.options.resyncMs ?? 300_000 };
  }

  private async applyAll(anchorlb: AnchorLB, namespace: string): Promise<void> {
    const livenessSecret = await orUndefined(this.rest.getJson(collectionPath('Secret', namespace) + `/${LIVENESS_SECRET_NAME}`));
    const peers = await this.rest.getJson<{ items?: BGPPeer[] }>(bgpPeersPath(namespace));
    const desired = render({
      anchorlb,
      rbacTemplates: this.options.rbacTemplates,
      speakerSecretNames: passwordSecretNames(peers.items ?? [], namespace),
      livenessSecretExists: livenessSecret !== undefined,
      generateLivenessKey: this.options.generateLivenessKey ?? (() => randomBytes(32)),
    });
    for (const manifest of desired) await this.apply(manifest);
  }

  /** Creates the object, or rewrites it when its rendering or the live object changed. Logs names only: a Secret's data never reaches the log. */
  private async apply(manifest: Manifest): Promise<void> {
    const path = objectPath(manifest);
    const existing = await orUndefined(this.rest.getJson<Manifest>(path));
    if (!existing) {
      await this.rest.create(collectionPath(manifest.kind, manifest.metadata.namespace), manifest);
      this.options.logger.info({ object: describe(manifest) }, 'created');
      return;
    }
    // The liveness key is generated once: an existing Secret is never rewritten.
    if (manifest.kind === 'Secret') return;
    // The hash catches fields the rendering dropped; holdsAll catches edits made by hand.
    const sameRendering = existing.metadata.annotations?.[DESIRED_HASH_ANNOTATION] === manifest.metadata.annotations?.[DESIRED_HASH_ANNOTATION];
    if (sameRendering && holdsAll(manifest, existing)) return;
    if (manifest.kind.endsWith('Binding') && JSON.stringify(existing.roleRef) !== JSON.stringify(manifest.roleRef)) {
      // roleRef cannot change in place.
      await this.rest.delete(path);
      await this.rest.create(collectionPath(manifest.kind, manifest.metadata.namespace), manifest);
    } else {
      const replacement: Manifest = { ...manifest, metadata: { ...manifest.metadata, resourceVersion: existing.metadata.resourceVersion } };
      if (existing.status !== undefined) replacement.status = existing.status;
      await this.rest.replace(path, replacement);
    }
    this.options.logger.info({ object: describe(manifest) }, 'updated');
  }

  /**
   * Deletes every object labelled as this installation's, namespaced and cluster-scoped, in order:
   * the workloads first (foreground: a workload goes only once its pods have), and the rest only
   * once no pod of them is left, so that stopping speakers still have the permissions to delete
   * their VIPStatus objects. True when everything is gone; false while pods are still stopping.
   */
  private async removeInstallation(namespace: string, owner: string): Promise<boolean> {
    const labelSelector = `${LABELS.owner}=${owner}`;
    const remove = async (kinds: readonly string[], query: Query): Promise<number> => {
      let found = 0;
      for (const kind of kinds) {
        const collection = collectionPath(kind, namespace);
        const list = await this.rest.getJson<{ items?: Manifest[] }>(collection, { labelSelector });
        for (const item of list.items ?? []) {
          found += 1;
          if (item.metadata.deletionTimestamp) continue;
          await orUndefined(this.rest.delete(`${collection}/${encodeURIComponent(item.metadata.name)}`, query));
          this.options.logger.info({ object: describe({ ...item, kind }) }, 'deleted');
        }
      }
      return found;
    };
    const workloads = await remove(WORKLOAD_KINDS, { propagationPolicy: 'Foreground' });
    const pods = await this.rest.getJson<{ items?: unknown[] }>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, { labelSelector: POD_SELECTOR });
    const stopping = (pods.items ?? []).length;
    if (workloads > 0 || stopping > 0) {
      this.options.logger.info({ workloads, pods: stopping }, 'uninstall: waiting for the workloads to stop before removing their permissions');
      return false;
    }
    await remove(
      Object.keys(COLLECTIONS).filter((kind) => !WORKLOAD_KINDS.includes(kind)),
      {},
    );
    return true;
  }

  private async setFinalizers(anchorlb: AnchorLB, finalizers: string[]): Promise<void> {
    // resourceVersion makes this a compare-and-swap: finalizers someone else added meanwhile are not lost.
    await this.rest.patch(anchorlbPath(anchorlb.metadata.namespace ?? '', anchorlb.metadata.name ?? ''), {
      metadata: { finalizers, resourceVersion: anchorlb.metadata.resourceVersion },
    });
  }

  private async reportStatus(anchorlb: AnchorLB, namespace: string, applyError: string | undefined, invalid: string | undefined): Promise<void> {
    const workload = (kind: string, name: string) => orUndefined(this.rest.getJson<WorkloadState>(`${collectionPath(kind, namespace)}/${name}`));
    const { snapshot, unreadable } = await collectSnapshot(this.options.kubeConfig, namespace);
    const status = computeStatus({
      generation: anchorlb.metadata.generation ?? 0,
      previous: anchorlb.status,
      controller: await workload('Deployment', CONTROLLER_NAME),
      speaker: await workload('DaemonSet', SPEAKER_NAME),
      applyError,
      ...(invalid !== undefined ? { invalid } : {}),
      doctor: { findings: diagnose(snapshot), unreadable },
      now: new Date().toISOString(),
    });
    if (JSON.stringify(status) === JSON.stringify(anchorlb.status)) return;
    await this.options.writeStatus(anchorlb, status);
  }
}

