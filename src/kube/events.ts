import { randomBytes } from 'node:crypto';
import type { Logger } from '../common/log.ts';
import type { KubeRest } from './rest.ts';

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
      this.logger?.warn({ err: error instanceof Error ? error.message : String(error), reason }, 'could not record event');
    }
  }
}
