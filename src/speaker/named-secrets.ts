/**
 * The Secrets the speaker needs, read by name: one list+watch per name with the field
 * selector metadata.name=NAME, which an RBAC rule with resourceNames allows (kube-apiserver
 * takes the name of a list or watch from that selector); listing every Secret of the
 * namespace would need a rule without resourceNames. The operator grants exactly the
 * names of the BGPPeers' passwordSecret (and the liveness key), so the names come and go
 * with the peers.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { KubeConnection } from '../kube/connection.ts';
import type { Logger } from '../common/log.ts';
import { Informer } from '../kube/informer.ts';

/** How long a sync waits for a newly named Secret's first list before going on without it. */
const FIRST_LIST_WAIT_MS = 2_000;

export class NamedSecrets {
  private readonly informers = new Map<string, Informer<V1Secret>>();

  constructor(
    private readonly options: { kubeConfig: KubeConnection; namespace: string; logger: Logger; resyncMs?: number; onChange: () => void },
  ) {}

  /**
   * Reads exactly these names from now on: starts a watch for each new one (waiting a
   * little for its first list, so a new peer's password is usually there at once) and
   * stops the watches of names no longer wanted. A name the speaker may not read yet
   * (the operator has not re-rendered its Role) is retried by its informer with back-off.
   */
  async want(names: readonly string[]): Promise<void> {
    const wanted = new Set(names);
    const removed = [...this.informers].filter(([name]) => !wanted.has(name));
    for (const [name, informer] of removed) {
      this.informers.delete(name);
      await informer.stop();
    }
    const started: Promise<void>[] = [];
    for (const name of wanted) {
      if (this.informers.has(name)) continue;
      const informer = new Informer<V1Secret>(this.options.kubeConfig, {
        path: `/api/v1/namespaces/${encodeURIComponent(this.options.namespace)}/secrets`,
        fieldSelector: `metadata.name=${name}`,
        logger: this.options.logger,
        resyncMs: this.options.resyncMs,
      });
      const changed = () => this.options.onChange();
      informer.on({ add: changed, update: changed, delete: changed });
      this.informers.set(name, informer);
      started.push(informer.start());
    }
    if (started.length > 0) await Promise.race([Promise.all(started), new Promise((resolve) => setTimeout(resolve, FIRST_LIST_WAIT_MS).unref())]);
  }

  list(): V1Secret[] {
    return [...this.informers.values()].flatMap((informer) => informer.list());
  }

  async stop(): Promise<void> {
    const all = [...this.informers.values()];
    this.informers.clear();
    await Promise.all(all.map((informer) => informer.stop()));
  }
}
