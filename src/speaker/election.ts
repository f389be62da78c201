import { createHash } from 'node:crypto';
import { matchesAnySelector, matchesLabelSelector, type LabelSelector, type Labels } from '../common/labels.ts';

/** The label that takes a node out of every load balancer's announcements. */
export const EXCLUDE_FROM_LB_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';

export interface NodeView {
  name: string;
  labels?: Labels;
  ready: boolean;
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
 * The node that answers for `input.ip`: among eligible nodes, the highest
 * preference, then the highest rendezvous score, then the smallest name.
 * Removing a node moves only the IPs it owned. Undefined when no node may answer.
 */
export function electL2Owner(nodes: readonly NodeView[], live: ReadonlySet<string>, input: IpElectionInput): string | undefined {
  let best: { name: string; preference: number; score: bigint } | undefined;
  for (const node of nodes) {
    const eligibility = l2Eligibility(node, live, input);
    if (!eligibility.eligible) continue;
    const candidate = { name: node.name, preference: eligibility.preference, score: rendezvousScore(node.name, input.ip) };
    if (!best || beats(candidate, best)) best = candidate;
  }
  return best?.name;
}

function beats(a: { name: string; preference: number; score: bigint }, b: { name: string; preference: number; score: bigint }): boolean {
  if (a.preference !== b.preference) return a.preference > b.preference;
  if (a.score !== b.score) return a.score > b.score;
  return a.name < b.name;
}
