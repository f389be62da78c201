import { createHash } from 'node:crypto';
import { matchesAnySelector, matchesLabelSelector, type LabelSelector, type Labels } from '../common/labels.ts';

/** The label that takes a node out of every load balancer's announcements. */
export const EXCLUDE_FROM_LB_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';

export interface NodeView {
  name: string;
  labels?: Labels;
  ready: boolean;
  /** spec.unschedulable: the node is being drained. */
  cordoned?: boolean;
  /** Interfaces the node's speaker reported it can announce from; undefined = not known yet. */
  interfaces?: readonly string[];
}

export interface L2AdvertisementView {
  name: string;
  nodeSelectors?: LabelSelector[];
  interfaces?: string[];
  preferredNodeSelectors?: Array<{ weight: number; preference: LabelSelector }>;
}

export interface ServiceView {
  key: string;
  externalTrafficPolicy: 'Cluster' | 'Local';
  /** Nodes with at least one ready endpoint of this Service. */
  nodesWithReadyEndpoints: ReadonlySet<string>;
}

/** Everything that decides who answers for one IP; all speakers compute it from the same state. */
export interface IpElectionInput {
  ip: string;
  /** The L2Advertisements that select this IP's pool. */
  advertisements: readonly L2AdvertisementView[];
  /** Every Service holding this IP (several when shared). */
  services: readonly ServiceView[];
  /** spec.failover.failbackDelay of this IP, with the time now and each node's (re)start: see electL2Owner. */
  failback?: FailbackInput;
}

export type Ineligibility = 'NotLive' | 'NotReady' | 'ExcludedByLabel' | 'NotSelected' | 'NoMatchingInterface' | 'NoLocalEndpoint';

export interface Eligibility {
  eligible: boolean;
  reason?: Ineligibility;
  /** Sum of the weights of matching preferredNodeSelectors: higher wins before the hash is consulted. */
  preference: number;
}

/**
 * Whether a node may answer for an IP. Per IP, not per Service: Services that
 * share an IP are judged together, so they can never be answered from two nodes.
 */
export function l2Eligibility(node: NodeView, live: ReadonlySet<string>, input: IpElectionInput): Eligibility {
  const no = (reason: Ineligibility): Eligibility => ({ eligible: false, reason, preference: 0 });
  if (!live.has(node.name)) return no('NotLive');
  if (!node.ready) return no('NotReady');
  if (node.labels && EXCLUDE_FROM_LB_LABEL in node.labels) return no('ExcludedByLabel');
  const selecting = input.advertisements.filter((advert) => matchesAnySelector(advert.nodeSelectors, node.labels));
  if (selecting.length === 0) return no('NotSelected');
  const withInterface = selecting.filter((advert) => interfacesMatch(advert.interfaces, node.interfaces));
  if (withInterface.length === 0) return no('NoMatchingInterface');
  const local = input.services.filter((service) => service.externalTrafficPolicy === 'Local');
  if (local.some((service) => !service.nodesWithReadyEndpoints.has(node.name))) return no('NoLocalEndpoint');
  let preference = 0;
  for (const advert of withInterface) {
    for (const preferred of advert.preferredNodeSelectors ?? []) {
      if (matchesLabelSelector(preferred.preference, node.labels)) preference += preferred.weight;
    }
  }
  return { eligible: true, preference };
}

function interfacesMatch(wanted: readonly string[] | undefined, has: readonly string[] | undefined): boolean {
  if (!wanted || wanted.length === 0 || has === undefined) return true;
  return wanted.some((name) => has.includes(name));
}

/** Rendezvous (highest random weight) score of a node for an IP: stable across processes and versions. */
export function rendezvousScore(node: string, ip: string): bigint {
  return createHash('sha256').update(node).update('\0').update(ip).digest().readBigUInt64BE(0);
}

/**
 * Nodes started this close to the earliest count as started with it (one cold start): nobody held
 * anything before them. Also absorbs a node seeing its own start a few ms later than the others do.
 */
export const STARTED_TOGETHER_MS = 1_000;

export interface FailbackInput {
  delayMs: number;
  now: number;
  /** When each node's speaker started (Membership.joinTimes); a node missing counts as up for long. */
  joinedAt: ReadonlyMap<string, number>;
}

/**
 * The node that answers for `input.ip`: among eligible nodes, the highest
 * preference, then the highest rendezvous score, then the smallest name.
 * Removing a node moves only the IPs it owned. Undefined when no node may answer.
 *
 * failbackDelay: an eligible node that (re)started less than the delay ago, after another
 * eligible node (more than STARTED_TOGETHER_MS after the earliest), is left out: it does not
 * take back an IP from the nodes that were there before it. The earliest eligible node is never left out, so an IP nobody else can hold is taken at
 * once, and an owner changes only when a delay ends (the failback, once) or a node goes: no
 * flapping when several nodes start together. Start times are the same numbers on every node
 * (a node's own is its first tick, a little later than the others see: it defers no less than
 * they think); only "less than the delay ago" is judged on each node's clock, so around the end
 * of the delay two nodes may disagree for the clock skew. Safe both ways: if the holder's delay
 * ends first it hands over (answers until the newcomer's announcement, claim.ts); if the
 * newcomer's ends first its probe is answered by the holder, which still defends the IP, and
 * it retries after the conflict back-off (with probes on, the default). Nobody claims an IP
 * another node still defends.
 */
export function electL2Owner(nodes: readonly NodeView[], live: ReadonlySet<string>, input: IpElectionInput): string | undefined {
  const eligible: Candidate[] = [];
  for (const node of nodes) {
    const eligibility = l2Eligibility(node, live, input);
    if (eligibility.eligible) eligible.push({ name: node.name, cordoned: node.cordoned === true, preference: eligibility.preference, score: rendezvousScore(node.name, input.ip) });
  }
  const failback = input.failback;
  const joinedAt = (name: string): number => failback?.joinedAt.get(name) ?? Number.NEGATIVE_INFINITY;
  const earliest = Math.min(...eligible.map((candidate) => joinedAt(candidate.name)));
  const deferred = (name: string): boolean => failback !== undefined && joinedAt(name) - earliest > STARTED_TOGETHER_MS && failback.now - joinedAt(name) < failback.delayMs;
  let best: Candidate | undefined;
  for (const candidate of eligible) {
    if (!deferred(candidate.name) && (!best || beats(candidate, best))) best = candidate;
  }
  return best?.name;
}

interface Candidate {
  name: string;
  /**
   * A cordoned node is being drained: any other node wins over it, so its IPs move now as a
   * planned move (it answers until the successor's GARP); it still holds an IP no one else can.
   */
  cordoned: boolean;
  preference: number;
  score: bigint;
}

function beats(a: Candidate, b: Candidate): boolean {
  if (a.cordoned !== b.cordoned) return !a.cordoned;
  if (a.preference !== b.preference) return a.preference > b.preference;
  if (a.score !== b.score) return a.score > b.score;
  return a.name < b.name;
}
