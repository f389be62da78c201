/**
 * Writes what this node's speaker actually does into each BGPPeer's status: its own entry in
 * `status.nodes` (session state, since, prefixes, last error, BFD) and the `Conflict` condition of
 * peers refused for duplicating another's session. Every speaker writes the same objects, so
 * each write is a read-modify-write of the status subresource guarded by resourceVersion
 * (retried on 409): other nodes' entries are never clobbered. Nothing is sent when nothing
 * changed since the last successful write.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../../common/log.ts';
import { GROUP, VERSION, type BGPPeerNodeStatus, type BGPPeerStatus, type Condition } from '../../api/index.ts';
import { KubeHttpError, type KubeRest } from '../../kube/rest.ts';
import type { PeerSessionStatus } from './announcer.ts';
import type { RefusedPeer } from './desired.ts';

export interface PeerStatusWriterOptions {
  rest: KubeRest;
  /** Where the BGPPeer objects live (the speaker's namespace). */
  namespace: string;
  nodeName: string;
  log: Logger;
  /** Attempts on a resourceVersion conflict (default 5). */
  maxAttempts?: number;
}

export interface PeerStatusInput {
  /** Every BGPPeer name: peers this node no longer serves lose its entry. */
  peers: readonly string[];
  /** This node's sessions (BgpAnnouncer.status()). */
  sessions: readonly PeerSessionStatus[];
  /** Cluster-wide clashes (clusterPeerConflicts): every speaker computes the same list, so their writes agree. */
  conflicts: readonly RefusedPeer[];
}

interface BgpPeerObject {
  metadata?: { resourceVersion?: string; generation?: number };
  status?: BGPPeerStatus;
}

const CONFLICT = 'Conflict';

/** The Conflict condition of one peer (without timestamps): refused, keeping its session against a newer peer, or clear. */
export function conflictCondition(peer: string, conflicts: readonly RefusedPeer[]): Omit<Condition, 'lastTransitionTime' | 'observedGeneration'> {
  const refused = conflicts.filter((c) => c.peer === peer);
  if (refused.length > 0) return { type: CONFLICT, status: 'True', reason: 'Refused', message: refused.map((c) => c.message).join('; ') };
  const yielding = conflicts.filter((c) => c.conflictsWith === peer).map((c) => c.peer);
  if (yielding.length > 0) {
    const names = [...new Set(yielding)].sort().join(', ');
    return { type: CONFLICT, status: 'True', reason: 'OlderPeerKept', message: `BGPPeer ${names} would open the same session as this peer on some node and is refused there; this peer keeps working` };
  }
  return { type: CONFLICT, status: 'False', reason: 'NoConflict', message: 'no other BGPPeer duplicates this peer\'s sessions' };
}

/** This node's status entry as the API wants it. */
export function nodeEntry(session: PeerSessionStatus): BGPPeerNodeStatus {
  return {
    node: session.node,
    state: session.state,
    since: session.since,
    prefixesSent: session.prefixesSent,
    prefixesReceived: session.prefixesReceived,
    ...(session.lastError !== undefined ? { lastError: session.lastError } : {}),
    ...(session.bfd !== undefined ? { bfd: session.bfd } : {}),
  };
}

/** `status` with this node's entry replaced (or removed) and the Conflict condition set; the counters follow the entries. */
export function mergePeerStatus(current: BGPPeerStatus | undefined, nodeName: string, entry: BGPPeerNodeStatus | undefined, condition: Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>, generation: number | undefined, now: Date): BGPPeerStatus {
  const nodes = (current?.nodes ?? []).filter((n) => n.node !== nodeName);
  if (entry) nodes.push(entry);
  nodes.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const previous = current?.conditions?.find((c) => c.type === CONFLICT);
  const conditions = (current?.conditions ?? []).filter((c) => c.type !== CONFLICT);
  conditions.push({
    ...condition,
    // Kubernetes convention: the time the status last flipped, not the time of this write.
    lastTransitionTime: previous?.status === condition.status && previous.lastTransitionTime ? previous.lastTransitionTime : now.toISOString(),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  });
  return {
    ...current,
    nodes,
    selectedNodes: nodes.length,
    establishedNodes: nodes.filter((n) => n.state === 'Established').length,
    conditions,
  };
}

export class BgpPeerStatusWriter {
  /** Peer → what we last wrote for it (our entry and the condition), as JSON. */
  private readonly written = new Map<string, string>();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: PeerStatusWriterOptions) {}

  /** Brings every peer's status in line with `input`; writes only peers whose part changed. Rejects on API errors (call again to retry). */
  write(input: PeerStatusInput): Promise<void> {
    const run = this.queue.then(() => this.writeNow(input));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async writeNow(input: PeerStatusInput): Promise<void> {
    const sessions = new Map(input.sessions.map((s) => [s.peer, nodeEntry(s)]));
    for (const peer of this.written.keys()) if (!input.peers.includes(peer)) this.written.delete(peer);
    const failures: string[] = [];
    for (const peer of input.peers) {
      const entry = sessions.get(peer);
      const condition = conflictCondition(peer, input.conflicts);
      const fingerprint = JSON.stringify([entry ?? null, condition]);
      if (this.written.get(peer) === fingerprint) continue;
      try {
        await this.writePeer(peer, entry, condition);
        this.written.set(peer, fingerprint);
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
    if (failures.length > 0) throw new Error(`BGPPeer status not written: ${failures.join('; ')}`);
  }

  private async writePeer(peer: string, entry: BGPPeerNodeStatus | undefined, condition: Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>): Promise<void> {
    const path = `/apis/${GROUP}/${VERSION}/namespaces/${this.options.namespace}/bgppeers/${encodeURIComponent(peer)}`;
    const attempts = this.options.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      let object: BgpPeerObject;
      try {
        object = await this.options.rest.getJson<BgpPeerObject>(path);
      } catch (error) {
        if (error instanceof KubeHttpError && error.statusCode === 404) return; // deleted: nothing to report on
        throw error;
      }
      const status = mergePeerStatus(object.status, this.options.nodeName, entry, condition, object.metadata?.generation, new Date());
      if (isDeepStrictEqual(status, object.status)) return;
      try {
        await this.options.rest.replace(`${path}/status`, { ...object, status });
        return;
      } catch (error) {
        // 409: another speaker wrote in between; read again and redo our part.
        if (!(error instanceof KubeHttpError && error.statusCode === 409) || attempt >= attempts) throw error;
        this.options.log.debug({ peer, attempt }, 'BGPPeer status conflict, retrying');
      }
    }
  }
}
