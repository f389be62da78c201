/**
 * The Service controller: gives `type: LoadBalancer` Services their addresses.
 * Level-triggered: every reconcile re-derives what a Service should hold from
 * the caches, so a missed event heals on the next resync. On start it adopts
 * every assignment already written before it hands out anything new.
 */
import type { V1Namespace, V1Service } from '@kubernetes/client-node';
import type { KubeConnection } from '../kube/connection.ts';
import type { Registry } from 'prom-client';
import { SERVICE_ANNOTATIONS } from '../api/annotations.ts';
import { GROUP, VERSION, PLURALS, type IPAddressPool } from '../api/index.ts';
import { Allocator, type Failure, type Release } from '../allocator/allocator.ts';
import { IpInputError } from '../allocator/ip.ts';
import type { Logger } from '../common/log.ts';
import { EventRecorder } from '../kube/events.ts';
import { Informer } from '../kube/informer.ts';
import { KubeRest } from '../kube/rest.ts';
import { WorkQueue, type ReconcileResult } from '../kube/workqueue.ts';
import { currentIngressIPs, isLoadBalancer, isOurs, poolsInPrecedence, poolToSpec, serviceKey, serviceToRequest } from './service-request.ts';
import { ControllerMetrics } from './metrics.ts';
import { poolStatusPatch } from './pool-status.ts';

export interface ServiceControllerOptions {
  kubeConfig: KubeConnection;
  /** Namespace holding the IPAddressPools (as MetalLB reads its own namespace). */
  poolNamespace: string;
  /** Handle only Services of this class; unset = only Services without a class. */
  loadBalancerClass?: string;
  logger: Logger;
  registry: Registry;
  /** Re-check every Service this often. */
  resyncMs?: number;
  /** After stepping back from a rival writer, how long the status must stay untouched before writing again. */
  rivalQuietMs?: number;
  /** Contradicting writes tolerated before stepping back. */
  rivalWritesLimit?: number;
}

const POOLS_KEY = '#pools';
const CONFLICT_CONDITION = 'anchorlb.io/StatusConflict';

interface Rival {
  count: number;
  foreign: string;
  lastForeignAt: number;
  steppedBack: boolean;
}

export class ServiceController {
  private readonly allocator = new Allocator();
  private readonly rest: KubeRest;
  private readonly events: EventRecorder;
  private readonly services: Informer<V1Service>;
  private readonly namespaces: Informer<V1Namespace>;
  private readonly pools: Informer<IPAddressPool>;
  private readonly queue: WorkQueue;
  /** What this process last wrote into each Service's status, to tell its own writes from a rival's. */
  private readonly written = new Map<string, string>();
  private readonly rivals = new Map<string, Rival>();
  private readonly lastFailure = new Map<string, string>();
  /** Per pool in force, the generation whose spec serves (a refused edit leaves an older one). */
  private readonly servingGeneration = new Map<string, number>();
  /** The refusal each pool's last Event told, so that it is told once. */
  private readonly saidRefusal = new Map<string, string>();
  private readonly metrics: ControllerMetrics;
  private poolsLoaded = false;

  constructor(private readonly options: ServiceControllerOptions) {
    const { kubeConfig, logger } = options;
    this.rest = new KubeRest(kubeConfig);
    this.events = new EventRecorder(this.rest, 'anchorlb-controller', logger);
    const resyncMs = options.resyncMs ?? 300_000;
    this.services = new Informer(kubeConfig, { path: '/api/v1/services', resyncMs, logger });
    this.namespaces = new Informer(kubeConfig, { path: '/api/v1/namespaces', logger });
    this.pools = new Informer(kubeConfig, { path: `/apis/${GROUP}/${VERSION}/namespaces/${options.poolNamespace}/${PLURALS.IPAddressPool}`, resyncMs, logger });
    this.queue = new WorkQueue((key) => (key === POOLS_KEY ? this.reconcilePools() : this.reconcileService(key)), {
      onError: (key, error, retryInMs) => logger.warn({ key, err: error instanceof Error ? error.message : String(error), retryInMs }, 'reconcile failed'),
    });
    this.metrics = new ControllerMetrics(options.registry, { configLoaded: () => this.poolsLoaded, refusedPools: () => this.allocator.refusedPools().length });
  }

  async start(): Promise<void> {
    await Promise.all([this.services.start(), this.namespaces.start(), this.pools.start()]);
    this.applyPools();
    this.adoptExisting();
    this.services.on({
      add: (service) => this.queue.add(serviceKey(service)),
      update: (_old, service) => this.queue.add(serviceKey(service)),
      delete: (service) => this.queue.add(serviceKey(service)),
    });
    const poolsChanged = () => this.queue.add(POOLS_KEY);
    this.pools.on({ add: poolsChanged, update: poolsChanged, delete: poolsChanged });
    this.namespaces.on({
      update: (_old, namespace) => this.enqueueNamespace(namespace.metadata?.name),
      add: (namespace) => this.enqueueNamespace(namespace.metadata?.name),
    });
    this.queue.add(POOLS_KEY);
    for (const service of this.services.list()) this.queue.add(serviceKey(service));
  }

  async stop(): Promise<void> {
    this.queue.stop();
    await Promise.all([this.services.stop(), this.namespaces.stop(), this.pools.stop()]);
  }

  /** Resolves when no work is waiting (for tests and benchmarks). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private enqueueNamespace(namespace: string | undefined): void {
    for (const service of this.services.list()) if (service.metadata?.namespace === namespace) this.queue.add(serviceKey(service));
  }

  private namespaceLabels(namespace: string | undefined): Record<string, string> {
    return (namespace && this.namespaces.get(namespace)?.metadata?.labels) || {};
  }

  private applyPools(): Release[] {
    const result = this.allocator.setPools(poolsInPrecedence(this.pools.list()).map(poolToSpec));
    this.poolsLoaded = true;
    return result.released;
  }

  /** Restart safety: every address already written is taken back, oldest Service first, before anything is allocated. */
  private adoptExisting(): void {
    const ours = this.services
      .list()
      .filter((service) => isOurs(service, this.options.loadBalancerClass) && isLoadBalancer(service) && currentIngressIPs(service).length > 0)
      .sort((a, b) => String(a.metadata?.creationTimestamp ?? '').localeCompare(String(b.metadata?.creationTimestamp ?? '')) || serviceKey(a).localeCompare(serviceKey(b)));
    for (const service of ours) {
      const translation = serviceToRequest(service, this.namespaceLabels(service.metadata?.namespace));
      if (!translation.ok) continue;
      const ips = currentIngressIPs(service);
      const adopted = this.allocator.adopt(translation.request, ips);
      if (adopted.ok) this.written.set(serviceKey(service), ips.join(','));
      else this.options.logger.info({ service: serviceKey(service), ips, reason: adopted.failure.message }, 'could not adopt existing addresses; will allocate anew');
    }
  }

  private async reconcilePools(): Promise<ReconcileResult> {
    for (const release of this.applyPools()) {
      await this.recordRelease(release);
      this.queue.add(release.service);
    }
    // A new or grown pool may serve Services that are still waiting.
    for (const service of this.services.list()) {
      const key = serviceKey(service);
      if (!this.allocator.assignmentOf(key) && isOurs(service, this.options.loadBalancerClass) && isLoadBalancer(service)) this.queue.add(key);
    }
    await this.writePoolStatuses();
    return {};
  }

  private async reconcileService(key: string): Promise<ReconcileResult> {
    const service = this.services.get(key);
    if (!service || service.metadata?.deletionTimestamp) {
      this.forget(key, 'ServiceDeleted');
      return {};
    }
    if (!isOurs(service, this.options.loadBalancerClass)) {
      // Another class: never written. Drop any bookkeeping left from before.
      this.forget(key, 'NotLoadBalancer');
      return {};
    }
    if (!isLoadBalancer(service)) {
      const release = this.allocator.release(key, 'NotLoadBalancer');
      this.written.delete(key);
      if (release || service.metadata?.annotations?.[SERVICE_ANNOTATIONS.allocatedFromPool]) {
        await this.clearStatus(service);
        if (release) await this.recordRelease(release);
        this.queue.add(POOLS_KEY);
      }
      return {};
    }

    const translation = serviceToRequest(service, this.namespaceLabels(service.metadata?.namespace));
    if (!translation.ok) {
      await this.recordFailure(service, { reason: 'InvalidRequest', message: `${translation.field}: ${JSON.stringify(translation.value)}: ${translation.message}` });
      return {};
    }
    let result;
    try {
      result = this.allocator.assign(translation.request);
    } catch (error) {
      if (!(error instanceof IpInputError)) throw error;
      await this.recordFailure(service, { reason: 'InvalidRequest', message: error.message });
      return {};
    }
    if (result.released) {
      await this.recordRelease(result.released);
      this.queue.add(POOLS_KEY);
    }
    if (!result.ok) {
      // Nothing held (released now, or earlier by a pool change): the status must not go on showing it.
      if (!this.allocator.assignmentOf(key)) await this.clearStatus(service);
      await this.recordFailure(service, result.failure);
      return {};
    }
    this.lastFailure.delete(key);
    // A shared address whose users changed (ports, selector, traffic policy) may now admit a Service that failed on it.
    if (translation.request.sharingKey !== undefined) for (const waiting of this.lastFailure.keys()) this.queue.add(waiting);
    if (result.partial) await this.events.record(this.target(service), 'Warning', 'PartialDualStack', result.partial.message);
    return this.writeAssignment(service, result.ips, result.pool, result.changed);
  }

  private forget(key: string, reason: 'ServiceDeleted' | 'NotLoadBalancer'): void {
    if (this.allocator.release(key, reason)) this.queue.add(POOLS_KEY);
    this.written.delete(key);
    this.rivals.delete(key);
    this.lastFailure.delete(key);
  }

  /**
   * Writes status and annotation unless they already say so. A status that changed
   * under us after we wrote it is a rival controller: we rewrite it a few times, then
   * step back, say so, and try again only once the status has been left alone.
   */
  private async writeAssignment(service: V1Service, ips: string[], pool: string, changed: boolean): Promise<ReconcileResult> {
    const key = serviceKey(service);
    const wanted = ips.join(',');
    const current = currentIngressIPs(service).join(',');
    const currentPool = service.metadata?.annotations?.[SERVICE_ANNOTATIONS.allocatedFromPool];
    if (current === wanted && currentPool === pool) {
      this.written.set(key, wanted);
      return {};
    }
    const quietMs = this.options.rivalQuietMs ?? 60_000;
    const limit = this.options.rivalWritesLimit ?? 3;
    const now = Date.now();
    let rival = this.rivals.get(key);
    const mine = this.written.get(key);
    if (mine !== undefined && current !== '' && current !== mine) {
      // Only contradictions within the quiet period add up: edits far apart are not a fight.
      if (rival && !rival.steppedBack && now - rival.lastForeignAt >= quietMs) rival = undefined;
      rival = rival ?? { count: 0, foreign: current, lastForeignAt: now, steppedBack: false };
      if (rival.foreign !== current || !rival.steppedBack) rival.count++;
      rival.foreign = current;
      rival.lastForeignAt = now;
      this.rivals.set(key, rival);
      this.written.set(key, current);
      if (rival.count >= limit) {
        if (!rival.steppedBack) {
          rival.steppedBack = true;
          await this.stepBack(service, current, wanted, quietMs);
        }
        return { requeueAfterMs: quietMs };
      }
    } else if (rival?.steppedBack) {
      const quietFor = now - rival.lastForeignAt;
      if (quietFor < quietMs) return { requeueAfterMs: quietMs - quietFor };
      this.rivals.delete(key);
      const message = `status.loadBalancer.ingress left alone for ${Math.round(quietFor / 1000)}s: anchorlb writes it again`;
      await this.events.record(this.target(service), 'Normal', 'StatusConflictResolved', message);
      await this.setConflictCondition(service, 'False', 'ForeignWriterGone', message);
    }

    await this.rest.patch(`${servicePath(service)}/status`, { status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } } });
    this.written.set(key, wanted);
    if (currentPool !== pool) await this.rest.patch(servicePath(service), { metadata: { annotations: { [SERVICE_ANNOTATIONS.allocatedFromPool]: pool } } });
    if (changed || current !== wanted) {
      await this.events.record(this.target(service), 'Normal', 'IPAllocated', `assigned ${ips.join(', ')} from pool ${pool}`);
      this.queue.add(POOLS_KEY);
    }
    return {};
  }

  private async stepBack(service: V1Service, foreign: string, wanted: string, quietMs: number): Promise<void> {
    const message = `another controller keeps writing status.loadBalancer.ingress = [${foreign}] over anchorlb's [${wanted}]; anchorlb stops writing this Service until the status is left alone for ${Math.round(quietMs / 1000)}s (check loadBalancerClass, kube-vip, k3s ServiceLB or a second installation)`;
    this.options.logger.warn({ service: serviceKey(service), foreign, wanted }, 'rival status writer; stepping back');
    await this.events.record(this.target(service), 'Warning', 'StatusConflict', message);
    await this.setConflictCondition(service, 'True', 'ForeignStatusWriter', message);
  }

  /** Strategic merge keeps other controllers' conditions: Service conditions merge by type. */
  private async setConflictCondition(service: V1Service, status: 'True' | 'False', reason: string, message: string): Promise<void> {
    const condition = { type: CONFLICT_CONDITION, status, reason, message, lastTransitionTime: new Date().toISOString(), observedGeneration: service.metadata?.generation ?? 0 };
    try {
      await this.rest.patch(`${servicePath(service)}/status`, { status: { conditions: [condition] } }, 'strategic');
    } catch (error) {
      this.options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not set the StatusConflict condition');
    }
  }

  private async clearStatus(service: V1Service): Promise<void> {
    if (currentIngressIPs(service).length > 0) await this.rest.patch(`${servicePath(service)}/status`, { status: { loadBalancer: { ingress: [] } } });
    if (service.metadata?.annotations?.[SERVICE_ANNOTATIONS.allocatedFromPool] !== undefined) {
      await this.rest.patch(servicePath(service), { metadata: { annotations: { [SERVICE_ANNOTATIONS.allocatedFromPool]: null } } });
    }
  }

  private async recordFailure(service: V1Service, failure: Failure): Promise<void> {
    const key = serviceKey(service);
    this.metrics.errors.inc({ reason: failure.reason });
    if (this.lastFailure.get(key) === failure.message) return;
    this.lastFailure.set(key, failure.message);
    await this.events.record(this.target(service), 'Warning', failure.reason, failure.message);
  }

  private async recordRelease(release: Release): Promise<void> {
    const service = this.services.get(release.service);
    if (!service) return;
    await this.events.record(this.target(service), 'Normal', release.reason, `released ${release.ips.join(', ')} (pool ${release.pool}): ${release.message}`);
  }

  private async writePoolStatuses(): Promise<void> {
    const stats = this.allocator.poolStats();
    const refusals = new Map(this.allocator.refusedPools().map((refusal) => [refusal.pool, refusal]));
    for (const pool of this.pools.list()) {
      const name = pool.metadata?.name ?? '';
      const counts = stats.get(name);
      for (const family of ['IPv4', 'IPv6'] as const) {
        this.metrics.total.set({ pool: name, family }, Number(counts?.[family].total ?? 0n));
        this.metrics.inUse.set({ pool: name, family }, Number(counts?.[family].inUse ?? 0n));
      }
      const refusal = refusals.get(name);
      if (refusal === undefined && counts !== undefined) this.servingGeneration.set(name, pool.metadata?.generation ?? 0);
      const patch = poolStatusPatch(pool, counts, refusal, new Date().toISOString(), this.servingGeneration.get(name));
      if (patch) await this.rest.patch(`/apis/${GROUP}/${VERSION}/namespaces/${pool.metadata?.namespace}/${PLURALS.IPAddressPool}/${name}/status`, patch);
      // One Event per new refusal, never one per sync.
      const said = this.saidRefusal.get(name);
      if (refusal === undefined) this.saidRefusal.delete(name);
      else if (said !== refusal.message) {
        this.saidRefusal.set(name, refusal.message);
        const target = { apiVersion: `${GROUP}/${VERSION}`, kind: 'IPAddressPool', name, namespace: pool.metadata?.namespace, uid: pool.metadata?.uid };
        const message = refusal.stale ? `edit refused, the last accepted spec stays in force: ${refusal.message}` : refusal.message;
        await this.events.record(target, 'Warning', refusal.reason, message);
      }
    }
    const present = new Set(this.pools.list().map((pool) => pool.metadata?.name ?? ''));
    for (const name of this.servingGeneration.keys()) if (!stats.has(name)) this.servingGeneration.delete(name);
    for (const name of this.saidRefusal.keys()) if (!present.has(name)) this.saidRefusal.delete(name);
  }

  private target(service: V1Service) {
    return { apiVersion: 'v1', kind: 'Service', name: service.metadata?.name ?? '', namespace: service.metadata?.namespace, uid: service.metadata?.uid };
  }
}

function servicePath(service: V1Service): string {
  return `/api/v1/namespaces/${encodeURIComponent(service.metadata?.namespace ?? '')}/services/${encodeURIComponent(service.metadata?.name ?? '')}`;
}

