/**
 * The AnchorLB operator on @dot-i/k8s-operator (the customer's choice), with
 * client-node 1.x forced under it. What the library leaves weak is covered here:
 * - it exits the process on a watch error: the operator runs as a restartable
 *   process (a Deployment) and a restart re-derives everything;
 * - it re-delivers everything after a re-watch and misses deletions during one:
 *   a finalizer holds every AnchorLB until its objects are gone, and each event
 *   only names a key whose whole desired state is re-derived;
 * - it drops handler errors and has one global queue: the handler only enqueues
 *   into our WorkQueue, which retries each key with its own back-off.
 */
import operatorLibrary, { ResourceEventType, ResourceMetaImpl, type ResourceEvent } from '@dot-i/k8s-operator';
import type { RequestOptions } from 'node:https';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURALS, VERSION, type AnchorLB, type AnchorLBStatus } from '../api/index.ts';
import type { Logger } from '../common/log.ts';
import { Informer, type KubeObject } from '../kube/informer.ts';
import { WorkQueue } from '../kube/workqueue.ts';
import { InstallationReconciler, bgpPeersPath } from './reconcile.ts';
import { LABELS, MANAGED_BY, type Manifest } from './render.ts';

const OperatorBase = operatorLibrary.default;

export interface AnchorLBOperatorOptions {
  kubeConfig: KubeConfig;
  /** The namespace watched for AnchorLBs (the operator's permissions are namespaced). */
  namespace: string;
  logger: Logger;
  rbacTemplates: readonly Manifest[];
  resyncMs?: number;
}

interface OwnedObject extends KubeObject {
  metadata?: KubeObject['metadata'] & { ownerReferences?: { kind?: string; name?: string }[] };
}

export class AnchorLBOperator extends OperatorBase {
  private readonly queue: WorkQueue;
  private readonly workloads: Informer<OwnedObject>[];
  /** BGPPeers: their passwordSecret names are rendered into the speaker's Role. */
  private readonly peers: Informer<KubeObject>;
  /** The AnchorLBs of the namespace, by key: a BGPPeer change re-derives each. */
  private readonly installations = new Set<string>();
  private readonly namespace: string;
  private readonly log: Logger;

  constructor(options: AnchorLBOperatorOptions) {
    super({
      debug: (message) => options.logger.debug(message),
      info: (message) => options.logger.info(message),
      warn: (message) => options.logger.warn(message),
      error: (message) => options.logger.error(message),
    });
    // The base class loads the default kubeconfig; use the one we were given.
    this.kubeConfig = options.kubeConfig;
    this.k8sApi = options.kubeConfig.makeApiClient(CoreV1Api);
    this.namespace = options.namespace;
    this.log = options.logger;
    const reconciler = new InstallationReconciler({
      kubeConfig: options.kubeConfig,
      logger: options.logger,
      rbacTemplates: options.rbacTemplates,
      resyncMs: options.resyncMs,
      writeStatus: (anchorlb, status) => this.writeStatus(anchorlb, status),
    });
    this.queue = new WorkQueue((key) => reconciler.reconcile(key), {
      backoffBaseMs: 500,
      backoffMaxMs: 30_000,
      onError: (key, error, retryInMs) => this.log.warn({ anchorlb: key, retryInMs, err: error instanceof Error ? error.message : String(error) }, 'reconcile failed'),
    });
    // A workload changing (rollout progress, edits, deletion) re-derives its installation.
    const labelSelector = `${LABELS.managedBy}=${MANAGED_BY}`;
    this.workloads = ['deployments', 'daemonsets'].map((plural) => {
      const informer = new Informer<OwnedObject>(options.kubeConfig, { path: `/apis/apps/v1/namespaces/${options.namespace}/${plural}`, labelSelector, logger: options.logger });
      const enqueueOwner = (object: OwnedObject) => {
        const owner = object.metadata?.ownerReferences?.find((reference) => reference.kind === 'AnchorLB');
        if (owner?.name) this.queue.add(`${this.namespace}/${owner.name}`);
      };
      informer.on({ add: enqueueOwner, update: (_old, object) => enqueueOwner(object), delete: enqueueOwner });
      return informer;
    });
    this.peers = new Informer<KubeObject>(options.kubeConfig, { path: bgpPeersPath(options.namespace), logger: options.logger });
    const enqueueAll = () => {
      for (const key of this.installations) this.queue.add(key);
    };
    this.peers.on({ add: enqueueAll, update: enqueueAll, delete: enqueueAll });
  }

  /** client-node 1.x has no `basePath`: the URL comes from the current cluster. */
  protected override getCustomResourceApiUri(group: string, version: string, plural: string, namespace?: string): string {
    const server = this.kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new Error('kubeconfig has no current cluster');
    const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
    return `${server.replace(/\/$/, '')}${base}${namespace ? `/namespaces/${namespace}` : ''}/${plural}`;
  }

  /**
   * The library's own requests (status writes, its finalizer helper) get an HTTPS agent built from
   * the kubeconfig's ca/cert/key only: insecure-skip-tls-verify, tls-server-name and proxy-url are
   * lost. Keep its headers, and use the agent client-node builds from the whole kubeconfig, as every
   * other request of ours does (KubeRest).
   */
  protected override async applyGaxiosKubeConfigAuth(options: { agent?: unknown }): Promise<void> {
    await super.applyGaxiosKubeConfigAuth(options);
    if (!this.kubeConfig.getCurrentCluster()?.server.startsWith('https:')) return;
    const tls: RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(tls);
    options.agent = tls.agent;
  }

  protected async init(): Promise<void> {
    for (const informer of [...this.workloads, this.peers]) await informer.start();
    await this.watchResource(
      GROUP,
      VERSION,
      PLURALS.AnchorLB,
      (event: ResourceEvent) => {
        const key = `${event.meta.namespace ?? ''}/${event.meta.name}`;
        if (event.type === ResourceEventType.Deleted) this.installations.delete(key);
        else this.installations.add(key);
        this.queue.add(key);
        return Promise.resolve();
      },
      this.namespace,
    );
  }

  async shutdown(): Promise<void> {
    this.stop();
    this.queue.stop();
    for (const informer of [...this.workloads, this.peers]) await informer.stop();
  }

  /** Through the library's status call; it reports failure as null, which we turn back into an error to retry. */
  private async writeStatus(anchorlb: AnchorLB, status: AnchorLBStatus): Promise<void> {
    const meta = ResourceMetaImpl.createWithPlural(PLURALS.AnchorLB, {
      apiVersion: anchorlb.apiVersion,
      kind: anchorlb.kind,
      metadata: { name: anchorlb.metadata.name, namespace: anchorlb.metadata.namespace, resourceVersion: anchorlb.metadata.resourceVersion },
    });
    const written = await this.patchResourceStatus(meta, status);
    if (written === null) throw new Error(`status of AnchorLB ${anchorlb.metadata.namespace ?? ''}/${anchorlb.metadata.name ?? ''} was not written (see the error logged before)`);
  }
}
