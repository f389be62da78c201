/**
 * The controller's Prometheus series, all defined here (docs/metrics.md lists them with
 * their MetalLB equivalents). The pool gauges are set where the pool statuses are written;
 * the configuration gauges are read from the allocator at scrape time.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ControllerMetricSources {
  /** The pools have been read and handed to the allocator at least once. */
  configLoaded(): boolean;
  /** Pools whose spec as written is not the one in force (an edit refused, or refused outright). */
  refusedPools(): number;
}

export class ControllerMetrics {
  readonly total: Gauge<'pool' | 'family'>;
  readonly inUse: Gauge<'pool' | 'family'>;
  readonly errors: Counter<'reason'>;

  constructor(registry: Registry, sources: ControllerMetricSources) {
    const registers = [registry];
    this.total = new Gauge({ name: 'anchorlb_pool_addresses', help: 'Addresses in a pool', labelNames: ['pool', 'family'], registers });
    this.inUse = new Gauge({ name: 'anchorlb_pool_addresses_in_use', help: 'Addresses of a pool assigned to Services', labelNames: ['pool', 'family'], registers });
    this.errors = new Counter({ name: 'anchorlb_allocation_errors_total', help: 'Allocations that failed, by reason', labelNames: ['reason'], registers });
    new Gauge({
      name: 'anchorlb_config_loaded_bool',
      help: 'The IPAddressPools have been loaded (1) or not yet (0)',
      registers,
      collect() {
        this.set(sources.configLoaded() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'anchorlb_config_stale_bool',
      help: 'Some IPAddressPool as written is not in force (an edit refused, the last accepted spec serves; or the pool refused): 1',
      registers,
      collect() {
        this.set(sources.refusedPools() > 0 ? 1 : 0);
      },
    });
  }
}
