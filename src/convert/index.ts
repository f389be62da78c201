import { API_VERSION, fieldPath, validateObject, type ValidationContext } from '../api/index.ts';
import { isRedundantWellKnownAlias } from './communities.ts';
import { convertAddressPoolSpec, convertLegacyConfigData } from './legacy-config.ts';
import { convertMetadata } from './metadata.ts';
import { DocumentReport, isJsonObject, type ConversionProblem, type DocumentRef, type JsonObject } from './report.ts';
import { convertServiceAnnotations } from './service.ts';
import { readYamlDocuments } from './yaml.ts';

export { formatConversionProblem, type ConversionProblem } from './report.ts';
export { writeYamlDocuments } from './yaml.ts';

export interface ManifestSource {
  /** File name, shown in problems; absent for standard input. */
  name?: string;
  text: string;
}

export interface ConvertOptions {
  /** Put every anchorlb object in this namespace instead of its own. */
  namespace?: string;
}

export interface ConversionResult {
  objects: JsonObject[];
  /** Any problem means the conversion failed: nothing should be written. */
  problems: ConversionProblem[];
  /** What was deliberately left out or renamed, and why. */
  notes: string[];
}

const METALLB_GROUP = 'metallb.io';
/** The versions MetalLB served each kind convert reads at. */
const METALLB_VERSIONS: ReadonlyMap<string, readonly string[]> = new Map([
  ['IPAddressPool', ['v1beta1']],
  ['L2Advertisement', ['v1beta1']],
  ['BGPAdvertisement', ['v1beta1']],
  ['BGPPeer', ['v1beta1', 'v1beta2']],
  ['BFDProfile', ['v1beta1']],
  ['Community', ['v1beta1']],
  ['AddressPool', ['v1alpha1', 'v1beta1']],
]);
/** MetalLB kinds with an anchorlb kind of the same name and fields. */
const SAME_KIND_IN_ANCHORLB = new Set(['IPAddressPool', 'L2Advertisement', 'BGPAdvertisement', 'BGPPeer', 'BFDProfile', 'Community']);
/** MetalLB's per-node status objects: written by its speakers, replaced by our VIPStatus. */
const METALLB_STATUS_KINDS = new Set(['ServiceL2Status', 'ServiceBGPStatus']);
const OBJECT_FIELDS = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);
const CONFIGMAP_FIELDS = new Set(['apiVersion', 'kind', 'metadata', 'data']);

/** Every field of metallb.io/v1beta1 BGPPeer; MetalLB's own conversion to v1beta2 keeps each under the same name. */
const V1BETA1_BGPPEER_FIELDS = new Set([
  'myASN',
  'peerASN',
  'peerAddress',
  'sourceAddress',
  'peerPort',
  'holdTime',
  'keepaliveTime',
  'routerID',
  'nodeSelectors',
  'password',
  'bfdProfile',
  'ebgpMultiHop',
]);

function reportUnknownFields(report: DocumentReport, object: JsonObject, known: ReadonlySet<string>): void {
  for (const [key, value] of Object.entries(object)) {
    if (!known.has(key)) report.problem(fieldPath('', key), value, 'not supported by anchorlb');
  }
}

function dropStatus(report: DocumentReport, status: unknown): void {
  const empty = status === undefined || status === null || (isJsonObject(status) && Object.keys(status).length === 0);
  if (!empty) report.note('status dropped: written by the system, not by users');
}

/** v1beta1 BGPPeer: same field names as v1beta2; its node selectors have the LabelSelector shape already. */
function upgradeV1beta1BgpPeer(report: DocumentReport, spec: JsonObject): JsonObject {
  for (const [key, value] of Object.entries(spec)) {
    if (!V1BETA1_BGPPEER_FIELDS.has(key)) {
      report.problem(fieldPath('spec', key), value, 'not a field of metallb.io/v1beta1 BGPPeer (MetalLB itself would drop it)');
    }
  }
  if (spec.peerPort !== 0) return spec;
  const { peerPort: _unset, ...rest } = spec;
  report.note('spec.peerPort 0 dropped: in v1beta1 it meant the default port, 179');
  return rest;
}

/**
 * MetalLB's v1beta2 BGPPeer holds passwordSecret by value, so its tools write
 * `passwordSecret: {}` for "no secret"; ours means by absence what theirs meant by
 * emptiness.
 */
function withoutEmptyPasswordSecret(report: DocumentReport, spec: JsonObject): JsonObject {
  const secret = spec.passwordSecret;
  if (!isJsonObject(secret) || Object.keys(secret).length > 0) return spec;
  const { passwordSecret: _empty, ...rest } = spec;
  report.note('spec.passwordSecret {} dropped: MetalLB writes an empty one for "no secret"');
  return rest;
}

function withoutRedundantAliases(report: DocumentReport, spec: JsonObject, aliases: unknown[]): JsonObject {
  const path = 'spec.communities';
  const kept = aliases.flatMap((alias, index) => {
    const { name, value } = isJsonObject(alias) ? alias : {};
    return isRedundantWellKnownAlias(report, fieldPath(path, index), name, value) ? [] : [index];
  });
  if (kept.length === aliases.length) return spec;
  report.renumber(path, kept);
  return { ...spec, communities: kept.map((index) => aliases[index]) };
}

/** A MetalLB CRD object (or one of ours, unchanged) as ours. */
function convertCustomObject(report: DocumentReport, object: JsonObject, kind: string, apiVersion: string): JsonObject[] {
  reportUnknownFields(report, object, OBJECT_FIELDS);
  dropStatus(report, object.status);
  const metadata = convertMetadata(report, object.metadata);
  const given = object.spec ?? {};
  if (!isJsonObject(given)) {
    report.problem('spec', given, 'must be an object');
    return [];
  }
  let spec: JsonObject = given;
  if (apiVersion === `${METALLB_GROUP}/v1beta1` && kind === 'BGPPeer') spec = upgradeV1beta1BgpPeer(report, spec);
  if (apiVersion === `${METALLB_GROUP}/v1beta2` && kind === 'BGPPeer') spec = withoutEmptyPasswordSecret(report, spec);
  if (kind === 'Community' && Array.isArray(spec.communities) && spec.communities.length > 0) {
    spec = withoutRedundantAliases(report, spec, spec.communities);
    if (Array.isArray(spec.communities) && spec.communities.length === 0) {
      report.note('not written: every alias it held is a well-known community');
      return [];
    }
  }
  if (metadata === undefined) return [];
  return [{ apiVersion: API_VERSION, kind, metadata, spec }];
}

function convertService(report: DocumentReport, service: JsonObject): JsonObject[] {
  reportUnknownFields(report, service, OBJECT_FIELDS);
  dropStatus(report, service.status);
  const metadata = convertMetadata(report, service.metadata);
  if (metadata === undefined) return [];
  if (isJsonObject(metadata.annotations)) {
    const annotations = convertServiceAnnotations(report, metadata.annotations as Record<string, string>);
    if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
    else delete metadata.annotations;
  }
  const { status: _status, ...rest } = service;
  const loadBalancerClass = isJsonObject(service.spec) ? service.spec.loadBalancerClass : undefined;
  if (typeof loadBalancerClass === 'string') {
    report.note(
      `spec.loadBalancerClass ${JSON.stringify(loadBalancerClass)} kept: anchorlb handles this Service only if its AnchorLB's spec.loadBalancerClass is the same`,
    );
  }
  return [{ ...rest, metadata }];
}

function convertAddressPool(report: DocumentReport, pool: JsonObject): JsonObject[] {
  reportUnknownFields(report, pool, OBJECT_FIELDS);
  dropStatus(report, pool.status);
  const metadata = convertMetadata(report, pool.metadata);
  if (metadata === undefined || typeof metadata.name !== 'string') return [];
  const namespace = typeof metadata.namespace === 'string' ? metadata.namespace : undefined;
  const objects = convertAddressPoolSpec(report, metadata.name, namespace, pool.spec);
  // Labels and annotations belong to the pool; the advertisements are ours.
  const [ipAddressPool] = objects;
  if (ipAddressPool !== undefined) ipAddressPool.metadata = metadata;
  return objects;
}

function convertLegacyConfigMap(report: DocumentReport, configMap: JsonObject): JsonObject[] {
  reportUnknownFields(report, configMap, CONFIGMAP_FIELDS);
  const metadata = convertMetadata(report, configMap.metadata);
  const namespace = typeof metadata?.namespace === 'string' ? metadata.namespace : undefined;
  return convertLegacyConfigData(report, configMap.data, namespace);
}

function convertObject(report: DocumentReport, value: unknown): JsonObject[] {
  if (!isJsonObject(value) || typeof value.apiVersion !== 'string' || typeof value.kind !== 'string') {
    report.problem('', value, 'not a Kubernetes object (a map with apiVersion and kind)');
    return [];
  }
  const { apiVersion, kind } = value;
  report.identify(kind, isJsonObject(value.metadata) && typeof value.metadata.name === 'string' ? value.metadata.name : undefined);
  const [group, version = ''] = apiVersion.split('/');
  if (group === METALLB_GROUP && METALLB_STATUS_KINDS.has(kind)) {
    report.note('skipped: a status object written by MetalLB itself; anchorlb writes VIPStatus objects instead');
    return [];
  }
  const metallb = group === METALLB_GROUP && (METALLB_VERSIONS.get(kind)?.includes(version) ?? false);
  if (metallb && kind === 'AddressPool') return convertAddressPool(report, value);
  if ((metallb || apiVersion === API_VERSION) && SAME_KIND_IN_ANCHORLB.has(kind)) {
    return convertCustomObject(report, value, kind, apiVersion);
  }
  if (apiVersion === 'v1' && kind === 'Service') return convertService(report, value);
  if (apiVersion === 'v1' && kind === 'ConfigMap') return convertLegacyConfigMap(report, value);
  report.problem('kind', kind, `${apiVersion} ${kind} is not a kind anchorlb convert knows`);
  return [];
}

function describeObject(object: JsonObject): { kind: string; namespace: string; name: string } {
  const metadata = isJsonObject(object.metadata) ? object.metadata : {};
  return {
    kind: String(object.kind),
    namespace: typeof metadata.namespace === 'string' ? metadata.namespace : '',
    name: String(metadata.name),
  };
}

/** Converted objects of one kind, or undefined when there are none (so references to that kind are not judged). */
function ofKind(objects: readonly JsonObject[], kind: string): JsonObject[] | undefined {
  const found = objects.filter((object) => object.apiVersion === API_VERSION && object.kind === kind);
  return found.length > 0 ? found : undefined;
}

interface Converted {
  object: JsonObject;
  report: DocumentReport;
}

/** Two objects of one kind, namespace and name would overwrite each other when applied. */
function reportDuplicates(converted: readonly Converted[]): void {
  const first = new Map<string, string>();
  for (const { object, report } of converted) {
    const { kind, namespace, name } = describeObject(object);
    const key = `${kind} ${namespace}/${name}`;
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, report.label);
    else report.problem('metadata.name', name, `${kind} of this name and namespace also comes from ${earlier}`);
  }
}

/**
 * Every anchorlb object through the project's validators, with the others as
 * context (pool overlaps, community aliases, BFD profiles). A field our schema
 * does not have is one anchorlb does not support.
 */
function validateConverted(converted: readonly Converted[]): void {
  const objects = converted.map(({ object }) => object);
  const context: ValidationContext = {
    pools: ofKind(objects, 'IPAddressPool'),
    communities: ofKind(objects, 'Community'),
    bfdProfiles: ofKind(objects, 'BFDProfile'),
  };
  for (const { object, report } of converted) {
    // A document already refused would mostly repeat its problems here, in our terms.
    if (object.apiVersion !== API_VERSION || report.problems.length > 0) continue;
    const { kind, name } = describeObject(object);
    // Objects made from a legacy ConfigMap are named, since the document is the ConfigMap.
    const prefix = report.describes(kind, name) ? '' : `${kind}/${name} `;
    for (const problem of validateObject(object, context)) {
      const message = problem.message === 'unknown field' ? 'not supported by anchorlb' : problem.message;
      report.problem(`${prefix}${report.inputPath(problem.path)}`, problem.value, message);
    }
  }
}

/**
 * Converts MetalLB manifests (CRD objects of metallb.io/v1beta1 and v1beta2, the
 * legacy ConfigMap of MetalLB ≤ 0.12, Services carrying MetalLB annotations) to
 * anchorlb's, and validates the result. Pure: text in, objects and findings out.
 */
export function convertManifests(sources: readonly ManifestSource[], options: ConvertOptions = {}): ConversionResult {
  const reports: DocumentReport[] = [];
  const converted: Converted[] = [];
  const convertEntry = (entry: unknown, ref: DocumentRef): void => {
    const report = new DocumentReport(ref);
    reports.push(report);
    for (const object of convertObject(report, entry)) {
      if (object.apiVersion === API_VERSION && options.namespace !== undefined && isJsonObject(object.metadata)) {
        object.metadata.namespace = options.namespace;
      }
      converted.push({ object, report });
    }
  };
  for (const source of sources) {
    for (const document of readYamlDocuments(source.text)) {
      const ref: DocumentRef = source.name === undefined ? { index: document.index } : { source: source.name, index: document.index };
      if (document.errors.length > 0) {
        const report = new DocumentReport(ref);
        reports.push(report);
        for (const error of document.errors) report.problem('', undefined, `not valid YAML: ${error}`);
        continue;
      }
      // `kubectl get -o yaml` of several objects gives one List document.
      const { value } = document;
      if (isJsonObject(value) && value.kind === 'List' && Array.isArray(value.items)) {
        value.items.forEach((item: unknown, position) => convertEntry(item, { ...ref, item: position + 1 }));
      } else {
        convertEntry(value, ref);
      }
    }
  }
  reportDuplicates(converted);
  validateConverted(converted);
  return {
    objects: converted.map(({ object }) => object),
    problems: reports.flatMap((report) => report.problems),
    notes: reports.flatMap((report) => report.notes),
  };
}
