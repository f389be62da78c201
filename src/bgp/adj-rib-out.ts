/**
 * Adj-RIB-Out of one session: what we want the peer to have (desired) against what we have
 * sent it (sent). `takeChanges()` yields only the difference, grouped by identical
 * attributes so the codec can pack each group into as few UPDATEs as possible: re-announcing
 * an unchanged route sends nothing, and a withdraw of something sent is never lost.
 */
import type { LargeCommunity, Prefix } from './codec/index.ts';

/** The per-route attributes a user chooses; ORIGIN, AS_PATH and NEXT_HOP are the session's. */
export interface RouteAttributes {
  /** RFC 1997 communities as uint32. */
  readonly communities?: readonly number[];
  readonly largeCommunities?: readonly LargeCommunity[];
  /** Sent to iBGP peers only; default 100 there. */
  readonly localPref?: number;
  readonly med?: number;
}

export interface Route {
  readonly prefix: Prefix;
  readonly attributes?: RouteAttributes;
}

export interface AnnouncementBatch {
  readonly attributes: RouteAttributes;
  readonly prefixes: Prefix[];
}

export interface RibChanges {
  /** One batch per distinct attribute set (prefixes of both families mixed). */
  readonly announce: AnnouncementBatch[];
  readonly withdraw: Prefix[];
}

interface Entry {
  readonly prefix: Prefix;
  readonly attributes: RouteAttributes;
  readonly attributesKey: string;
}

/** A map key for a prefix: a number for IPv4 (cheap to hash for 100k routes), a string for IPv6. */
export function prefixKey(prefix: Prefix): number | string {
  return prefix.family === 4 ? Number(prefix.address) * 64 + prefix.length : `${prefix.address.toString(36)}/${prefix.length}`;
}

function checkUint32(field: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`route attribute ${field}: ${value} is not an integer in 0..4294967295`);
}

/**
 * Sorted, de-duplicated attributes, so equal sets compare equal whatever order they came in.
 * Throws a RangeError naming the field on a value that cannot go on the wire.
 */
export function normalizeAttributes(attributes: RouteAttributes = {}): RouteAttributes {
  for (const c of attributes.communities ?? []) checkUint32('communities', c);
  for (const c of attributes.largeCommunities ?? []) for (const [k, v] of Object.entries(c)) checkUint32(`largeCommunities.${k}`, v as number);
  if (attributes.localPref !== undefined) checkUint32('localPref', attributes.localPref);
  if (attributes.med !== undefined) checkUint32('med', attributes.med);
  const normalized: { -readonly [K in keyof RouteAttributes]: RouteAttributes[K] } = {};
  if (attributes.communities?.length) normalized.communities = [...new Set(attributes.communities)].sort((a, b) => a - b);
  if (attributes.largeCommunities?.length) {
    const byText = new Map(attributes.largeCommunities.map((c) => [`${c.globalAdmin}:${c.localData1}:${c.localData2}`, c]));
    normalized.largeCommunities = [...byText.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
  }
  if (attributes.localPref !== undefined) normalized.localPref = attributes.localPref;
  if (attributes.med !== undefined) normalized.med = attributes.med;
  return normalized;
}

const NO_ATTRIBUTES: RouteAttributes = {};

function attributesKey(attributes: RouteAttributes): string {
  return JSON.stringify([attributes.communities ?? [], (attributes.largeCommunities ?? []).map((c) => [c.globalAdmin, c.localData1, c.localData2]), attributes.localPref ?? null, attributes.med ?? null]);
}

export class AdjRibOut {
  /** Never mutated while `sent` shares it (after a full send): replaced, or copied first. */
  private desired = new Map<number | string, Entry>();
  /** What the peer has from us. The same object as `desired` right after the whole table went out. */
  private sent = new Map<number | string, Entry>();

  /** Replaces the desired set (the last route wins for a prefix given twice). */
  setRoutes(routes: Iterable<Route>): void {
    const desired = new Map<number | string, Entry>();
    this.addTo(desired, routes);
    this.desired = desired;
  }

  /** Adds (or changes) some routes and removes some prefixes, keeping the rest. */
  update(add: Iterable<Route>, remove: Iterable<Prefix> = []): void {
    // Copy on write: `sent` may be the very same map.
    const desired = this.desired === this.sent ? new Map(this.desired) : this.desired;
    for (const prefix of remove) desired.delete(prefixKey(prefix));
    this.addTo(desired, add);
    this.desired = desired;
  }

  private addTo(desired: Map<number | string, Entry>, routes: Iterable<Route>): void {
    const byKey = new Map<string, RouteAttributes>();
    // By the caller's object, for this call only: routes usually share one attributes object.
    const normalized = new Map<RouteAttributes, { attributes: RouteAttributes; key: string }>();
    for (const route of routes) {
      const given = route.attributes ?? NO_ATTRIBUTES;
      let known = normalized.get(given);
      if (!known) {
        const attributes = normalizeAttributes(given);
        const key = attributesKey(attributes);
        // Equal attribute sets share one object, whatever objects they came in.
        known = { attributes: byKey.get(key) ?? attributes, key };
        byKey.set(key, known.attributes);
        normalized.set(given, known);
      }
      desired.set(prefixKey(route.prefix), { prefix: route.prefix, attributes: known.attributes, attributesKey: known.key });
    }
  }

  /** Number of desired routes. */
  get size(): number {
    return this.desired.size;
  }

  /** Number of routes the peer currently has from us. */
  get sentCount(): number {
    return this.sent.size;
  }

  /** True when the peer does not have exactly the desired set. */
  get dirty(): boolean {
    if (this.sent === this.desired) return false;
    if (this.sent.size !== this.desired.size) return true;
    for (const [key, entry] of this.desired) if (this.sent.get(key)?.attributesKey !== entry.attributesKey) return true;
    return false;
  }

  /** The difference between desired and sent, which from now on counts as sent. */
  takeChanges(): RibChanges {
    if (this.sent === this.desired) return { announce: [], withdraw: [] };
    if (this.sent.size === 0) {
      // The whole table (session just up): no per-route bookkeeping.
      this.sent = this.desired;
      return { announce: this.all(), withdraw: [] };
    }
    // `sent` is no longer `desired` (that was replaced or copied, never mutated): ours to change.
    const sent = this.sent;
    const batches = new Map<string, AnnouncementBatch>();
    const withdraw: Prefix[] = [];
    for (const [key, entry] of this.desired) {
      if (sent.get(key)?.attributesKey === entry.attributesKey) continue;
      let batch = batches.get(entry.attributesKey);
      if (!batch) {
        batch = { attributes: entry.attributes, prefixes: [] };
        batches.set(entry.attributesKey, batch);
      }
      batch.prefixes.push(entry.prefix);
      sent.set(key, entry);
    }
    for (const [key, entry] of sent) {
      if (this.desired.has(key)) continue;
      withdraw.push(entry.prefix);
      sent.delete(key);
    }
    return { announce: [...batches.values()], withdraw };
  }

  /** Every desired route, grouped by attributes: for a route refresh (call takeChanges first, so no withdraw is lost). */
  all(): AnnouncementBatch[] {
    const batches = new Map<string, AnnouncementBatch>();
    for (const entry of this.desired.values()) {
      let batch = batches.get(entry.attributesKey);
      if (!batch) {
        batch = { attributes: entry.attributes, prefixes: [] };
        batches.set(entry.attributesKey, batch);
      }
      batch.prefixes.push(entry.prefix);
    }
    return [...batches.values()];
  }

  /** The session went down: the peer has nothing from us any more. */
  forgetSent(): void {
    this.sent = new Map();
  }
}
