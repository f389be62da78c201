import { randomBytes } from 'node:crypto';
import type { Logger } from '../common/log.ts';
import { KubeHttpError, type KubeRest } from './rest.ts';

export interface EventTarget {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

/**
 * Writes core/v1 Events (what `kubectl describe` shows). An Event that cannot be
 * written is logged, never fatal: it must not cost the object its reconcile.
 */
export class EventRecorder {
  constructor(
    private readonly rest: KubeRest,
    private readonly component: string,
    private readonly logger?: Logger,
  ) {}

  async record(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = target.namespace ?? 'default';
    const now = new Date().toISOString();
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${target.name}.${randomBytes(8).toString('hex')}`, namespace },
      involvedObject: { apiVersion: target.apiVersion, kind: target.kind, name: target.name, namespace: target.namespace, uid: target.uid },
      type,
      reason,
      message,
      source: { component: this.component },
      reportingComponent: this.component,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.rest.create(`/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, event);
    } catch (error) {
      const err = error instanceof Error ? error.message : String(error);
      // Refused by RBAC is a broken installation, not a passing hiccup: say so louder.
      if (error instanceof KubeHttpError && (error.statusCode === 401 || error.statusCode === 403)) this.logger?.error({ err, reason }, 'could not record event: not allowed to create Events');
      else this.logger?.warn({ err, reason }, 'could not record event');
    }
  }
}
