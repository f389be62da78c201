import { expect } from 'chai';
import { parse, parseAllDocuments } from 'yaml';
import { convertManifests, formatConversionProblem } from '../../../src/convert/index.ts';
import { at, leaves, sample, showSteps } from './helpers.ts';

type Json = Record<string, unknown>;
/** Where a legacy field lands: kind, object name, path in that object, and the value when it is not the legacy one. */
type Target = [kind: string, name: string, path: string, value?: unknown];

function steps(path: string): (string | number)[] {
  return (path.match(/[^.[\]]+/g) ?? []).map((step) => (/^\d+$/.test(step) ? Number(step) : step));
}

function configMap(config: string, metadata = 'name: config\n  namespace: metallb-system'): string {
  const indented = config.replace(/^/gm, '    ');
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  ${metadata}\ndata:\n  config: |\n${indented}\n`;
}

function problemLines(text: string): string[] {
  return convertManifests([{ text }]).problems.map(formatConversionProblem);
}

/**
 * Every field of test/data/metallb/legacy-configmap.yaml, and where MetalLB
 * 0.13's own migration puts its meaning. Written out one by one on purpose: the
 * test fails if the sample grows a field nobody mapped.
 */
const PEER_1: Record<string, Target> = {
  'peers[0].peer-address': ['BGPPeer', 'peer-1', 'spec.peerAddress'],
  'peers[0].peer-asn': ['BGPPeer', 'peer-1', 'spec.peerASN'],
  'peers[0].my-asn': ['BGPPeer', 'peer-1', 'spec.myASN'],
  'peers[0].peer-port': ['BGPPeer', 'peer-1', 'spec.peerPort'],
  'peers[0].source-address': ['BGPPeer', 'peer-1', 'spec.sourceAddress'],
  'peers[0].hold-time': ['BGPPeer', 'peer-1', 'spec.holdTime'],
  'peers[0].keepalive-time': ['BGPPeer', 'peer-1', 'spec.keepaliveTime'],
  'peers[0].router-id': ['BGPPeer', 'peer-1', 'spec.routerID'],
  'peers[0].password': ['BGPPeer', 'peer-1', 'spec.password'],
  'peers[0].bfd-profile': ['BGPPeer', 'peer-1', 'spec.bfdProfile', 'fast-profile'],
  'peers[0].ebgp-multihop': ['BGPPeer', 'peer-1', 'spec.ebgpMultiHop'],
  'peers[0].node-selectors[0].match-labels.rack': ['BGPPeer', 'peer-1', 'spec.nodeSelectors[0].matchLabels.rack'],
  'peers[0].node-selectors[0].match-expressions[0].key': ['BGPPeer', 'peer-1', 'spec.nodeSelectors[0].matchExpressions[0].key'],
  'peers[0].node-selectors[0].match-expressions[0].operator': ['BGPPeer', 'peer-1', 'spec.nodeSelectors[0].matchExpressions[0].operator'],
  'peers[0].node-selectors[0].match-expressions[0].values[0]': ['BGPPeer', 'peer-1', 'spec.nodeSelectors[0].matchExpressions[0].values[0]'],
  'peers[0].node-selectors[0].match-expressions[0].values[1]': ['BGPPeer', 'peer-1', 'spec.nodeSelectors[0].matchExpressions[0].values[1]'],
};
const PEER_2: Record<string, Target> = {
  'peers[1].peer-address': ['BGPPeer', 'peer-2', 'spec.peerAddress'],
  'peers[1].peer-asn': ['BGPPeer', 'peer-2', 'spec.peerASN'],
  'peers[1].my-asn': ['BGPPeer', 'peer-2', 'spec.myASN'],
};
const COMMUNITIES: Record<string, Target> = {
  'bgp-communities.tenant-a': ['Community', 'communities', 'spec.communities[0].value'],
};
const PRODUCTION_POOL: Record<string, Target> = {
  'address-pools[0].addresses[0]': ['IPAddressPool', 'production-pool', 'spec.addresses[0]'],
  'address-pools[0].addresses[1]': ['IPAddressPool', 'production-pool', 'spec.addresses[1]'],
  'address-pools[0].avoid-buggy-ips': ['IPAddressPool', 'production-pool', 'spec.avoidBuggyIPs'],
  'address-pools[0].auto-assign': ['IPAddressPool', 'production-pool', 'spec.autoAssign'],
  'address-pools[0].bgp-advertisements[0].aggregation-length': ['BGPAdvertisement', 'production-pool-1', 'spec.aggregationLength'],
  'address-pools[0].bgp-advertisements[0].aggregation-length-v6': ['BGPAdvertisement', 'production-pool-1', 'spec.aggregationLengthV6'],
  'address-pools[0].bgp-advertisements[0].localpref': ['BGPAdvertisement', 'production-pool-1', 'spec.localPref'],
  'address-pools[0].bgp-advertisements[0].communities[0]': ['BGPAdvertisement', 'production-pool-1', 'spec.communities[0]'],
  'address-pools[0].bgp-advertisements[0].communities[1]': ['BGPAdvertisement', 'production-pool-1', 'spec.communities[1]'],
  'address-pools[0].bgp-advertisements[1].aggregation-length': ['BGPAdvertisement', 'production-pool-2', 'spec.aggregationLength'],
  'address-pools[0].bgp-advertisements[1].communities[0]': ['BGPAdvertisement', 'production-pool-2', 'spec.communities[0]'],
};
const BFD_PROFILE: Record<string, Target> = {
  'bfd-profiles[0].receive-interval': ['BFDProfile', 'fast-profile', 'spec.receiveInterval'],
  'bfd-profiles[0].transmit-interval': ['BFDProfile', 'fast-profile', 'spec.transmitInterval'],
  'bfd-profiles[0].detect-multiplier': ['BFDProfile', 'fast-profile', 'spec.detectMultiplier'],
  'bfd-profiles[0].echo-interval': ['BFDProfile', 'fast-profile', 'spec.echoInterval'],
  'bfd-profiles[0].echo-mode': ['BFDProfile', 'fast-profile', 'spec.echoMode'],
  'bfd-profiles[0].passive-mode': ['BFDProfile', 'fast-profile', 'spec.passiveMode'],
  'bfd-profiles[0].minimum-ttl': ['BFDProfile', 'fast-profile', 'spec.minimumTtl'],
};
/** Names and protocols carry their meaning through several objects. */
const STRUCTURE: Record<string, Target[]> = {
  'bgp-communities.tenant-a': [['Community', 'communities', 'spec.communities[0].name', 'tenant-a']],
  // Restates the well-known community of that name, which the advertisement still names.
  'bgp-communities.no-advertise': [['BGPAdvertisement', 'production-pool-1', 'spec.communities[0]', 'no-advertise']],
  'address-pools[0].name': [
    ['IPAddressPool', 'production-pool', 'metadata.name', 'production-pool'],
    ['BGPAdvertisement', 'production-pool-1', 'spec.ipAddressPools', ['production-pool']],
    ['BGPAdvertisement', 'production-pool-2', 'spec.ipAddressPools', ['production-pool']],
  ],
  'address-pools[0].protocol': [['BGPAdvertisement', 'production-pool-1', 'kind', 'BGPAdvertisement']],
  'address-pools[1].name': [
    ['IPAddressPool', 'lab', 'metadata.name', 'lab'],
    ['L2Advertisement', 'lab', 'spec.ipAddressPools', ['lab']],
  ],
  'address-pools[1].protocol': [['L2Advertisement', 'lab', 'kind', 'L2Advertisement']],
  'address-pools[1].addresses[0]': [['IPAddressPool', 'lab', 'spec.addresses[0]', '198.51.100.64/27']],
  'address-pools[2].name': [
    ['IPAddressPool', 'plain-bgp', 'metadata.name', 'plain-bgp'],
    // No bgp-advertisements: one advertisement with MetalLB's defaults.
    ['BGPAdvertisement', 'plain-bgp', 'spec', { ipAddressPools: ['plain-bgp'] }],
  ],
  'address-pools[2].protocol': [['BGPAdvertisement', 'plain-bgp', 'kind', 'BGPAdvertisement']],
  'address-pools[2].addresses[0]': [['IPAddressPool', 'plain-bgp', 'spec.addresses[0]', '192.0.2.128/28']],
  'bfd-profiles[0].name': [['BFDProfile', 'fast-profile', 'metadata.name', 'fast-profile']],
};

describe('anchorlb convert: MetalLB ≤ 0.12 ConfigMap', () => {
  const text = sample('legacy-configmap.yaml');
  const result = convertManifests([{ text }]);
  const legacy = parse((parse(text) as { data: { config: string } }).data.config) as unknown;
  const find = (kind: string, name: string): Json | undefined =>
    result.objects.find((object) => object.kind === kind && (object.metadata as Json).name === name);

  it('converts without problems, saying which names changed', () => {
    expect(result.problems.map(formatConversionProblem)).to.deep.equal([]);
    expect(result.notes).to.deep.equal([
      'document 1 (ConfigMap/config): data.config.address-pools[0].name "Production_Pool" becomes IPAddressPool "production-pool" (object names are lower-case DNS labels)',
      'document 1 (ConfigMap/config): data.config.bfd-profiles[0].name "Fast_Profile" becomes BFDProfile "fast-profile" (object names are lower-case DNS labels)',
      'document 1 (ConfigMap/config): data.config.bgp-communities.no-advertise dropped: "no-advertise" = "65535:65282" is the well-known community anchorlb knows by that name',
    ]);
  });

  it('makes exactly the objects MetalLB 0.13 introduced for each section, in the ConfigMap\'s namespace', () => {
    expect(result.objects.map((object) => `${object.kind as string}/${(object.metadata as Json).name as string}`)).to.deep.equal([
      'IPAddressPool/production-pool',
      'BGPAdvertisement/production-pool-1',
      'BGPAdvertisement/production-pool-2',
      'IPAddressPool/lab',
      'L2Advertisement/lab',
      'IPAddressPool/plain-bgp',
      'BGPAdvertisement/plain-bgp',
      'BFDProfile/fast-profile',
      'Community/communities',
      'BGPPeer/peer-1',
      'BGPPeer/peer-2',
    ]);
    for (const object of result.objects) {
      expect(object.apiVersion).to.equal('anchorlb.io/v1beta1');
      expect((object.metadata as Json).namespace).to.equal('metallb-system');
    }
  });

  it('carries every legacy field, each to where it means the same', () => {
    const direct = { ...PEER_1, ...PEER_2, ...COMMUNITIES, ...PRODUCTION_POOL, ...BFD_PROFILE };
    const covered = new Set([...Object.keys(direct), ...Object.keys(STRUCTURE)]);
    const legacyLeaves = leaves(legacy);
    expect(legacyLeaves.map(([path]) => showSteps(path)).filter((path) => !covered.has(path)), 'fields without a mapping').to.deep.equal([]);
    for (const [path, value] of legacyLeaves) {
      const targets = [...(STRUCTURE[showSteps(path)] ?? [])];
      const target = direct[showSteps(path)];
      if (target !== undefined) targets.push(target);
      for (const [kind, name, ourPath, expected] of targets) {
        const object = find(kind, name);
        expect(object, `${kind}/${name}`).to.not.equal(undefined);
        expect(at(object, steps(ourPath)), `${showSteps(path)} → ${kind}/${name} ${ourPath}`).to.deep.equal(expected ?? value);
      }
    }
  });

  it('puts the objects in --namespace when given', () => {
    const moved = convertManifests([{ text }], { namespace: 'anchorlb-system' });
    expect(new Set(moved.objects.map((object) => (object.metadata as Json).namespace))).to.deep.equal(new Set(['anchorlb-system']));
  });

  it('reports legacy keys anchorlb has no place for, and values of the wrong type, by their legacy path', () => {
    const config = [
      'peer-autodiscovery: {from-labels: []}',
      'peers:',
      '- {peer-address: 192.0.2.1, peer-asn: "64501", my-asn: 64500, ebgp-multihop: maybe}',
      'address-pools:',
      '- {name: old, protocol: arp, cidr: [192.0.2.0/28]}',
      '- {name: l2, protocol: layer2, addresses: [192.0.2.16/28], bgp-advertisements: [{localpref: 1}]}',
      '- {protocol: bgp, addresses: 192.0.2.32/28}',
    ].join('\n');
    expect(problemLines(configMap(config))).to.have.members([
      'document 1 (ConfigMap/config): data.config.address-pools[0].protocol: "arp": must be one of layer2, bgp',
      'document 1 (ConfigMap/config): data.config.address-pools[0].cidr: ["192.0.2.0/28"]: not supported by anchorlb',
      'document 1 (ConfigMap/config): data.config.address-pools[0].addresses: required',
      'document 1 (ConfigMap/config): data.config.address-pools[1].bgp-advertisements: [{"localPref":1}]: only for protocol bgp',
      'document 1 (ConfigMap/config): data.config.address-pools[2].addresses: "192.0.2.32/28": must be a list',
      'document 1 (ConfigMap/config): data.config.address-pools[2].name: required',
      'document 1 (ConfigMap/config): data.config.peers[0].peer-asn: "64501": must be an integer',
      'document 1 (ConfigMap/config): data.config.peers[0].ebgp-multihop: "maybe": must be true or false',
      'document 1 (ConfigMap/config): data.config.peer-autodiscovery: {"from-labels":[]}: not supported by anchorlb',
    ]);
  });

  it('refuses two legacy names that would become the same object name, and names that cannot become one', () => {
    const config = 'address-pools:\n- {name: My_Pool, protocol: layer2, addresses: [192.0.2.0/28]}\n- {name: my-pool, protocol: layer2, addresses: [192.0.2.16/28]}\n- {name: "__", protocol: layer2, addresses: [192.0.2.32/28]}';
    expect(problemLines(configMap(config))).to.deep.equal([
      'document 1 (ConfigMap/config): data.config.address-pools[1].name: "my-pool": would be IPAddressPool "my-pool", already made from data.config.address-pools[0].name',
      'document 1 (ConfigMap/config): data.config.address-pools[2].name: "__": cannot be made into a Kubernetes object name',
    ]);
  });

  it('reports a config that is not YAML, not a map, or not under data.config', () => {
    expect(problemLines(configMap('peers: [unclosed'))).to.deep.equal([
      'document 1 (ConfigMap/config): data.config: "document 1": not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1',
    ]);
    expect(problemLines(configMap('- a\n- b'))).to.deep.equal([
      'document 1 (ConfigMap/config): data.config: ["a","b"]: must be a YAML map',
    ]);
    expect(problemLines('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {settings: x}\n')).to.deep.equal([
      'document 1 (ConfigMap/other): data: {"settings":"x"}: a MetalLB ConfigMap holds its configuration as a string under data.config',
    ]);
  });

  it('notes an empty config instead of failing', () => {
    const empty = convertManifests([{ text: configMap('# nothing yet') }]);
    expect(empty.problems).to.deep.equal([]);
    expect(empty.objects).to.deep.equal([]);
    expect(empty.notes).to.deep.equal(['document 1 (ConfigMap/config): data.config is empty: nothing to convert']);
  });
});

describe('anchorlb convert: MetalLB 0.12 AddressPool objects', () => {
  const text = sample('addresspool.yaml');
  const result = convertManifests([{ text }]);
  const find = (kind: string, name: string): Json | undefined =>
    result.objects.find((object) => object.kind === kind && (object.metadata as Json).name === name);

  it('become an IPAddressPool of the same name plus the advertisements their protocol implied', () => {
    expect(result.problems.map(formatConversionProblem)).to.deep.equal([]);
    expect(result.objects.map((object) => `${object.kind as string}/${(object.metadata as Json).name as string}`)).to.deep.equal([
      'IPAddressPool/bgp-pool',
      'BGPAdvertisement/bgp-pool-1',
      'BGPAdvertisement/bgp-pool-2',
      'IPAddressPool/l2-pool',
      'L2Advertisement/l2-pool',
    ]);
  });

  it('carries every field, each to where it means the same', () => {
    const expected: Record<string, Target> = {
      'metadata.name': ['IPAddressPool', 'bgp-pool', 'metadata.name'],
      'metadata.namespace': ['IPAddressPool', 'bgp-pool', 'metadata.namespace'],
      'metadata.labels.tier': ['IPAddressPool', 'bgp-pool', 'metadata.labels.tier'],
      'spec.protocol': ['BGPAdvertisement', 'bgp-pool-1', 'spec.ipAddressPools', ['bgp-pool']],
      'spec.addresses[0]': ['IPAddressPool', 'bgp-pool', 'spec.addresses[0]'],
      'spec.autoAssign': ['IPAddressPool', 'bgp-pool', 'spec.autoAssign'],
      'spec.avoidBuggyIPs': ['IPAddressPool', 'bgp-pool', 'spec.avoidBuggyIPs'],
      'spec.bgpAdvertisements[0].aggregationLength': ['BGPAdvertisement', 'bgp-pool-1', 'spec.aggregationLength'],
      'spec.bgpAdvertisements[0].localPref': ['BGPAdvertisement', 'bgp-pool-1', 'spec.localPref'],
      'spec.bgpAdvertisements[0].communities[0]': ['BGPAdvertisement', 'bgp-pool-1', 'spec.communities[0]'],
      'spec.bgpAdvertisements[1].aggregationLength': ['BGPAdvertisement', 'bgp-pool-2', 'spec.aggregationLength'],
      'spec.bgpAdvertisements[1].aggregationLengthV6': ['BGPAdvertisement', 'bgp-pool-2', 'spec.aggregationLengthV6'],
    };
    const [bgpPool] = parseAllDocuments(text).map((document) => document.toJS() as Json);
    const fields = leaves({ metadata: bgpPool?.metadata, spec: bgpPool?.spec });
    expect(fields.map(([path]) => showSteps(path)).filter((path) => expected[path] === undefined), 'fields without a mapping').to.deep.equal([]);
    for (const [path, value] of fields) {
      const [kind, name, ourPath, wanted] = expected[showSteps(path)] as Target;
      expect(at(find(kind, name), steps(ourPath)), showSteps(path)).to.deep.equal(wanted ?? value);
    }
    expect(find('L2Advertisement', 'l2-pool')?.spec).to.deep.equal({ ipAddressPools: ['l2-pool'] });
  });

  it('reports fields AddressPool never had, by their path in the object', () => {
    const bad = 'apiVersion: metallb.io/v1beta1\nkind: AddressPool\nmetadata: {name: p}\nspec: {protocol: layer2, addresses: [192.0.2.0/28], arpNetwork: 192.0.2.0/24}\n';
    expect(problemLines(bad)).to.deep.equal(['document 1 (AddressPool/p): spec.arpNetwork: "192.0.2.0/24": not supported by anchorlb']);
  });
});
