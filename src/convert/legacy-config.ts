import { API_VERSION, fieldPath } from '../api/index.ts';
import { isRedundantWellKnownAlias } from './communities.ts';
import { toDnsLabel, withSuffix } from './names.ts';
import { isJsonObject, type DocumentReport, type JsonObject } from './report.ts';
import { readYamlDocuments } from './yaml.ts';

/*
 * MetalLB ≤ 0.12 was configured by one ConfigMap (`metallb-system/config`) whose
 * `config` key holds YAML with kebab-case keys. Each section becomes the objects
 * MetalLB 0.13 introduced for it, with the same meaning:
 *   address-pools[]  → IPAddressPool, plus an L2Advertisement (layer2) or one
 *                      BGPAdvertisement per bgp-advertisements entry (bgp; one with
 *                      defaults when there are none, as MetalLB did)
 *   peers[]          → BGPPeer peer-1, peer-2, … (legacy peers have no names)
 *   bfd-profiles[]   → BFDProfile
 *   bgp-communities  → one Community `communities` holding every alias
 * MetalLB 0.12's AddressPool custom resource is such a pool as an object, with
 * camelCase keys, and converts the same way.
 */

const CONFIG_PATH = 'data.config';

/** Reads one legacy value into ours, or reports it and returns undefined. */
type Reader = (report: DocumentReport, path: string, value: unknown) => unknown;

interface Field {
  to: string;
  read: Reader;
}
type Fields = Readonly<Record<string, Field>>;

const text: Reader = (report, path, value) => {
  if (typeof value === 'string') return value;
  report.problem(path, value, 'must be a string');
  return undefined;
};

const integer: Reader = (report, path, value) => {
  if (Number.isSafeInteger(value)) return value;
  report.problem(path, value, 'must be an integer');
  return undefined;
};

const flag: Reader = (report, path, value) => {
  if (typeof value === 'boolean') return value;
  report.problem(path, value, 'must be true or false');
  return undefined;
};

function oneOf(...allowed: string[]): Reader {
  return (report, path, value) => {
    if (typeof value === 'string' && allowed.includes(value)) return value;
    report.problem(path, value, `must be one of ${allowed.join(', ')}`);
    return undefined;
  };
}

function listOf(read: Reader): Reader {
  return (report, path, value) => {
    if (!Array.isArray(value)) {
      report.problem(path, value, 'must be a list');
      return undefined;
    }
    return value.map((item, index) => read(report, fieldPath(path, index), item));
  };
}

const textMap: Reader = (report, path, value) => {
  if (!isJsonObject(value)) {
    report.problem(path, value, 'must be a map of strings');
    return undefined;
  }
  return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, text(report, fieldPath(path, key), entry)]));
};

/**
 * Maps a legacy map's keys to ours through `fields`. Unknown keys are reported
 * (never dropped); a null value is an unset key, as it was for MetalLB.
 */
function readFields(
  report: DocumentReport,
  path: string,
  value: unknown,
  fields: Fields,
  required: readonly string[] = [],
): JsonObject | undefined {
  if (!isJsonObject(value)) {
    report.problem(path, value, 'must be a map');
    return undefined;
  }
  const result: JsonObject = {};
  for (const [key, entry] of Object.entries(value)) {
    const field = Object.hasOwn(fields, key) ? fields[key] : undefined;
    const here = fieldPath(path, key);
    if (field === undefined) report.problem(here, entry, 'not supported by anchorlb');
    else if (entry !== null) result[field.to] = field.read(report, here, entry);
  }
  for (const key of required) {
    if (value[key] === undefined || value[key] === null) report.problem(fieldPath(path, key), undefined, 'required');
  }
  return result;
}

function mapOf(fields: Fields, required: readonly string[] = []): Reader {
  return (report, path, value) => readFields(report, path, value, fields, required);
}

const nodeSelectors = listOf(
  mapOf({
    'match-labels': { to: 'matchLabels', read: textMap },
    'match-expressions': {
      to: 'matchExpressions',
      read: listOf(
        mapOf(
          {
            key: { to: 'key', read: text },
            operator: { to: 'operator', read: text },
            values: { to: 'values', read: listOf(text) },
          },
          ['key', 'operator'],
        ),
      ),
    },
  }),
);

const PEER_FIELDS: Fields = {
  'my-asn': { to: 'myASN', read: integer },
  'peer-asn': { to: 'peerASN', read: integer },
  'peer-address': { to: 'peerAddress', read: text },
  'source-address': { to: 'sourceAddress', read: text },
  'peer-port': { to: 'peerPort', read: integer },
  'hold-time': { to: 'holdTime', read: text },
  'keepalive-time': { to: 'keepaliveTime', read: text },
  'router-id': { to: 'routerID', read: text },
  'node-selectors': { to: 'nodeSelectors', read: nodeSelectors },
  password: { to: 'password', read: text },
  'bfd-profile': { to: 'bfdProfile', read: text },
  'ebgp-multihop': { to: 'ebgpMultiHop', read: flag },
};

const BGP_ADVERTISEMENT_FIELDS: Fields = {
  'aggregation-length': { to: 'aggregationLength', read: integer },
  'aggregation-length-v6': { to: 'aggregationLengthV6', read: integer },
  localpref: { to: 'localPref', read: integer },
  communities: { to: 'communities', read: listOf(text) },
};

const POOL_FIELDS: Fields = {
  name: { to: 'name', read: text },
  protocol: { to: 'protocol', read: oneOf('layer2', 'bgp') },
  addresses: { to: 'addresses', read: listOf(text) },
  'avoid-buggy-ips': { to: 'avoidBuggyIPs', read: flag },
  'auto-assign': { to: 'autoAssign', read: flag },
  'bgp-advertisements': { to: 'bgpAdvertisements', read: listOf(mapOf(BGP_ADVERTISEMENT_FIELDS)) },
};

const BFD_PROFILE_FIELDS: Fields = {
  name: { to: 'name', read: text },
  'receive-interval': { to: 'receiveInterval', read: integer },
  'transmit-interval': { to: 'transmitInterval', read: integer },
  'detect-multiplier': { to: 'detectMultiplier', read: integer },
  'echo-interval': { to: 'echoInterval', read: integer },
  'echo-mode': { to: 'echoMode', read: flag },
  'passive-mode': { to: 'passiveMode', read: flag },
  'minimum-ttl': { to: 'minimumTtl', read: integer },
};

/** Hands out object names per kind, reporting renames (a note) and clashes (a problem). */
class Names {
  private readonly taken = new Map<string, string>();

  constructor(private readonly report: DocumentReport) {}

  /** Our name for a user-given legacy name, or undefined when none can be made. */
  fromLegacy(kind: string, legacy: string, path: string): string | undefined {
    const name = toDnsLabel(legacy);
    if (name === undefined) {
      this.report.problem(path, legacy, 'cannot be made into a Kubernetes object name');
      return undefined;
    }
    if (name !== legacy) {
      this.report.note(`${path} ${JSON.stringify(legacy)} becomes ${kind} ${JSON.stringify(name)} (object names are lower-case DNS labels)`);
    }
    return this.claim(kind, name, path, legacy) ? name : undefined;
  }

  /** Claims a name we made up; false (and a problem) when it is already used. */
  claim(kind: string, name: string, path: string, value: unknown = name): boolean {
    const key = `${kind}/${name}`;
    const holder = this.taken.get(key);
    if (holder !== undefined) {
      this.report.problem(path, value, `would be ${kind} ${JSON.stringify(name)}, already made from ${holder}`);
      return false;
    }
    this.taken.set(key, path);
    return true;
  }
}

function anchorlbObject(kind: string, name: string, namespace: string | undefined, spec: JsonObject): JsonObject {
  const metadata: JsonObject = namespace === undefined ? { name } : { name, namespace };
  return { apiVersion: API_VERSION, kind, metadata, spec };
}

function pick(from: JsonObject, keys: readonly string[]): JsonObject {
  return Object.fromEntries(keys.filter((key) => from[key] !== undefined).map((key) => [key, from[key]]));
}

/**
 * The IPAddressPool and advertisements one legacy pool stands for. `pool` is already
 * read into our field names; `advertisementsPath` is where its advertisements were.
 */
function poolObjects(
  report: DocumentReport,
  names: Names,
  namespace: string | undefined,
  name: string,
  pool: JsonObject,
  advertisementsPath: string,
): JsonObject[] {
  const objects = [anchorlbObject('IPAddressPool', name, namespace, pick(pool, ['addresses', 'autoAssign', 'avoidBuggyIPs']))];
  const advertisements = Array.isArray(pool.bgpAdvertisements) ? pool.bgpAdvertisements : [];
  if (pool.protocol === 'layer2') {
    if (advertisements.length > 0) report.problem(advertisementsPath, advertisements, 'only for protocol bgp');
    if (names.claim('L2Advertisement', name, advertisementsPath)) {
      objects.push(anchorlbObject('L2Advertisement', name, namespace, { ipAddressPools: [name] }));
    }
  } else if (pool.protocol === 'bgp') {
    // No advertisements meant one with the defaults (every IP as a /32 or /128).
    const specs = advertisements.length === 0 ? [{}] : advertisements;
    specs.forEach((advertisement: unknown, position) => {
      const advertisementName = specs.length === 1 ? name : withSuffix(name, String(position + 1));
      const spec = isJsonObject(advertisement) ? advertisement : {};
      if (names.claim('BGPAdvertisement', advertisementName, advertisementsPath)) {
        objects.push(anchorlbObject('BGPAdvertisement', advertisementName, namespace, { ...spec, ipAddressPools: [name] }));
      }
    });
  }
  return objects;
}

function convertPools(report: DocumentReport, names: Names, namespace: string | undefined, value: unknown): JsonObject[] {
  const sectionPath = fieldPath(CONFIG_PATH, 'address-pools');
  const pools = listOf(mapOf(POOL_FIELDS, ['name', 'protocol', 'addresses']))(report, sectionPath, value);
  if (!Array.isArray(pools)) return [];
  return pools.flatMap((pool: unknown, index) => {
    const path = fieldPath(sectionPath, index);
    if (!isJsonObject(pool) || typeof pool.name !== 'string') return [];
    const name = names.fromLegacy('IPAddressPool', pool.name, fieldPath(path, 'name'));
    return name === undefined ? [] : poolObjects(report, names, namespace, name, pool, fieldPath(path, 'bgp-advertisements'));
  });
}

/** The same fields under their camelCase names, as MetalLB's AddressPool CRD spells them. */
function camelCased(fields: Fields): Fields {
  return Object.fromEntries(Object.values(fields).map((field) => [field.to, field]));
}

const { name: _poolName, ...ADDRESS_POOL_SPEC_FIELDS } = camelCased({
  ...POOL_FIELDS,
  'bgp-advertisements': { to: 'bgpAdvertisements', read: listOf(mapOf(camelCased(BGP_ADVERTISEMENT_FIELDS))) },
});

/**
 * MetalLB's AddressPool (metallb.io/v1alpha1 and v1beta1, replaced by IPAddressPool in
 * 0.13): a legacy pool as an object, with camelCase fields.
 */
export function convertAddressPoolSpec(report: DocumentReport, name: string, namespace: string | undefined, spec: unknown): JsonObject[] {
  const pool = readFields(report, 'spec', spec, ADDRESS_POOL_SPEC_FIELDS, ['protocol', 'addresses']);
  if (pool === undefined) return [];
  return poolObjects(report, new Names(report), namespace, name, pool, 'spec.bgpAdvertisements');
}

function convertBfdProfiles(report: DocumentReport, names: Names, namespace: string | undefined, value: unknown): JsonObject[] {
  const sectionPath = fieldPath(CONFIG_PATH, 'bfd-profiles');
  const profiles = listOf(mapOf(BFD_PROFILE_FIELDS, ['name']))(report, sectionPath, value);
  if (!Array.isArray(profiles)) return [];
  return profiles.flatMap((profile: unknown, index) => {
    if (!isJsonObject(profile) || typeof profile.name !== 'string') return [];
    const { name: _legacyName, ...spec } = profile;
    const name = names.fromLegacy('BFDProfile', profile.name, fieldPath(fieldPath(sectionPath, index), 'name'));
    return name === undefined ? [] : [anchorlbObject('BFDProfile', name, namespace, spec)];
  });
}

function convertPeers(report: DocumentReport, names: Names, namespace: string | undefined, value: unknown): JsonObject[] {
  const sectionPath = fieldPath(CONFIG_PATH, 'peers');
  const peers = listOf(mapOf(PEER_FIELDS, ['my-asn', 'peer-asn', 'peer-address']))(report, sectionPath, value);
  if (!Array.isArray(peers)) return [];
  return peers.flatMap((peer: unknown, index) => {
    if (!isJsonObject(peer)) return [];
    const name = `peer-${index + 1}`;
    if (!names.claim('BGPPeer', name, fieldPath(sectionPath, index))) return [];
    // Profiles were renamed to valid object names; the reference follows the same rule.
    const spec = typeof peer.bfdProfile === 'string' ? { ...peer, bfdProfile: toDnsLabel(peer.bfdProfile) ?? peer.bfdProfile } : peer;
    return [anchorlbObject('BGPPeer', name, namespace, spec)];
  });
}

function convertCommunities(report: DocumentReport, names: Names, namespace: string | undefined, value: unknown): JsonObject[] {
  const path = fieldPath(CONFIG_PATH, 'bgp-communities');
  const aliases = textMap(report, path, value);
  if (!isJsonObject(aliases) || !names.claim('Community', 'communities', path)) return [];
  const communities = Object.entries(aliases)
    .filter(([name, community]) => !isRedundantWellKnownAlias(report, fieldPath(path, name), name, community))
    .map(([name, community]) => ({ name, value: community }));
  if (communities.length === 0) return [];
  return [anchorlbObject('Community', 'communities', namespace, { communities })];
}

type SectionConverter = (report: DocumentReport, names: Names, namespace: string | undefined, value: unknown) => JsonObject[];

const SECTIONS: ReadonlyMap<string, SectionConverter> = new Map([
  ['address-pools', convertPools],
  ['bfd-profiles', convertBfdProfiles],
  ['bgp-communities', convertCommunities],
  ['peers', convertPeers],
]);

/** The objects a legacy ConfigMap's `data` stands for. */
export function convertLegacyConfigData(report: DocumentReport, data: unknown, namespace: string | undefined): JsonObject[] {
  if (!isJsonObject(data) || typeof data.config !== 'string') {
    report.problem('data', data, 'a MetalLB ConfigMap holds its configuration as a string under data.config');
    return [];
  }
  for (const [key, value] of Object.entries(data)) {
    if (key !== 'config') report.problem(fieldPath('data', key), value, 'not supported by anchorlb');
  }
  const documents = readYamlDocuments(data.config);
  if (documents.length === 0) {
    report.note(`${CONFIG_PATH} is empty: nothing to convert`);
    return [];
  }
  const [config, ...extra] = documents;
  for (const document of documents) {
    for (const error of document.errors) report.problem(CONFIG_PATH, `document ${document.index}`, `not valid YAML: ${error}`);
  }
  if (extra.length > 0) report.problem(CONFIG_PATH, `${documents.length} documents`, 'must hold one YAML document');
  if (config === undefined || config.errors.length > 0) return [];
  if (!isJsonObject(config.value)) {
    report.problem(CONFIG_PATH, config.value, 'must be a YAML map');
    return [];
  }
  const names = new Names(report);
  const objects: JsonObject[] = [];
  for (const [key, value] of Object.entries(config.value)) {
    if (!SECTIONS.has(key)) report.problem(fieldPath(CONFIG_PATH, key), value, 'not supported by anchorlb');
  }
  // In a fixed order, so names are claimed (and clashes reported) the same way every time.
  for (const [key, convertSection] of SECTIONS) {
    const value = config.value[key];
    if (value !== undefined && value !== null) objects.push(...convertSection(report, names, namespace, value));
  }
  return objects;
}
