import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { convertManifests, formatConversionProblem, writeYamlDocuments } from '../../../src/convert/index.ts';
import { at, goodSamples, leaves, sample, showSteps } from './helpers.ts';

type Json = Record<string, unknown>;

function convertText(text: string, namespace?: string): ReturnType<typeof convertManifests> {
  return convertManifests([{ text }], namespace === undefined ? {} : { namespace });
}

function problemLines(text: string): string[] {
  return convertText(text).problems.map(formatConversionProblem);
}

function inputObjects(text: string): Json[] {
  return parseAllDocuments(text).map((document) => document.toJS() as Json);
}

function findObject(objects: Json[], kind: string, name: string): Json {
  const found = objects.find((object) => object.kind === kind && (object.metadata as Json).name === name);
  expect(found, `${kind}/${name} in the output`).to.not.equal(undefined);
  return found as Json;
}

const CRD_SAMPLES = [
  'ipaddresspool.yaml',
  'l2advertisement.yaml',
  'bgpadvertisement.yaml',
  'bgppeer-v1beta2.yaml',
  'bgppeer-v1beta1.yaml',
  'bfdprofile.yaml',
  'community.yaml',
];

describe('anchorlb convert: MetalLB custom resources', () => {
  for (const file of CRD_SAMPLES) {
    it(`${file}: every field of every object reappears, same place, same value, under anchorlb.io/v1beta1`, () => {
      const text = sample(file);
      const result = convertText(text);
      expect(result.problems.map(formatConversionProblem)).to.deep.equal([]);
      const inputs = inputObjects(text);
      expect(result.objects).to.have.length(inputs.length);
      for (const input of inputs) {
        const metadata = input.metadata as Json;
        const output = findObject(result.objects, input.kind as string, metadata.name as string);
        expect(output.apiVersion).to.equal('anchorlb.io/v1beta1');
        const fields = leaves({ metadata: input.metadata, spec: input.spec ?? {} });
        expect(fields.length).to.be.greaterThan(1);
        for (const [steps, value] of fields) expect(at(output, steps), showSteps(steps)).to.deep.equal(value);
        // …and nothing else appeared.
        expect(leaves({ metadata: output.metadata, spec: output.spec })).to.have.length(fields.length);
      }
    });
  }

  it('v1beta1 BGPPeer: fields outside v1beta1 are reported, and peerPort 0 (the default) is dropped with a note', () => {
    const text = `apiVersion: metallb.io/v1beta1
kind: BGPPeer
metadata: {name: old, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64513, peerAddress: 192.0.2.1, peerPort: 0, vrf: red}
`;
    const result = convertText(text);
    expect(result.problems.map(formatConversionProblem)).to.deep.equal([
      'document 1 (BGPPeer/old): spec.vrf: "red": not a field of metallb.io/v1beta1 BGPPeer (MetalLB itself would drop it)',
    ]);
    expect(result.notes).to.deep.equal([
      'document 1 (BGPPeer/old): spec.peerPort 0 dropped: in v1beta1 it meant the default port, 179',
    ]);
    expect((result.objects[0]?.spec as Json).peerPort).to.equal(undefined);
  });

  it('reads YAML as kubectl does: yes/on are booleans, 0755 is octal, a community like 64512:1 stays a string', () => {
    const text = 'apiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: b}\nspec: {echoMode: yes, passiveMode: off, minimumTtl: 0377}\n---\napiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {name: a}\nspec: {communities: [64512:1, 1:30]}\n';
    const result = convertText(text);
    expect(result.objects.map((object) => object.spec)).to.deep.equal([
      { echoMode: true, passiveMode: false, minimumTtl: 255 },
      { communities: ['64512:1', '1:30'] },
    ]);
    // Written back quoted, so a YAML 1.1 reader cannot take them for base-60 numbers.
    expect(writeYamlDocuments(result.objects)).to.contain('- "64512:1"\n').and.to.contain('- "1:30"\n');
  });

  it('takes what MetalLB\'s own migration tool writes: empty status and passwordSecret dropped, each with a note', () => {
    const text = sample('configmaptocrs-output.yaml');
    const result = convertText(text);
    expect(result.problems.map(formatConversionProblem)).to.deep.equal([]);
    const inputs = inputObjects(text);
    expect(result.objects.map((object) => `${object.kind as string}/${(object.metadata as Json).name as string}`)).to.deep.equal([
      'BGPPeer/peer1',
      'IPAddressPool/my-ip-space',
      'BGPAdvertisement/bgpadvertisement1',
      'BFDProfile/bfdprofile1',
    ]);
    const { passwordSecret: _empty, ...peerSpec } = inputs[0]?.spec as Json;
    expect(result.objects[0]?.spec).to.deep.equal(peerSpec);
    result.objects.slice(1).forEach((object, index) => expect(object.spec).to.deep.equal(inputs[index + 1]?.spec));
    expect(result.notes.map((note) => note.replace(/^document (\d) \(([^)]*)\): /, '$1 $2: '))).to.deep.equal([
      '1 BGPPeer/peer1: spec.passwordSecret {} dropped: MetalLB writes an empty one for "no secret"',
      '2 IPAddressPool/my-ip-space: status dropped: written by the system, not by users',
      '5 Community/communities: spec.communities[0] dropped: "no-export" = "65535:65281" is the well-known community anchorlb knows by that name',
      '5 Community/communities: not written: every alias it held is a well-known community',
    ]);
  });

  it('skips MetalLB status objects with a note each', () => {
    const result = convertText(sample('status.yaml'));
    expect(result.objects).to.deep.equal([]);
    expect(result.problems).to.deep.equal([]);
    expect(result.notes).to.have.length(2);
    expect(result.notes[0]).to.match(/^document 1 \(ServiceL2Status\/l2-abcde\): skipped: .*VIPStatus/);
    expect(result.notes[1]).to.match(/^document 2 \(ServiceBGPStatus\/bgp-fghij\): skipped/);
  });

  it('drops what the system wrote (metadata, status, last-applied) with a note, keeps what users wrote', () => {
    const text = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: p
  namespace: metallb-system
  uid: 0b5e8a3c-1111-2222-3333-444455556666
  resourceVersion: "4711"
  creationTimestamp: "2024-01-01T00:00:00Z"
  generation: 3
  managedFields: [{manager: kubectl}]
  labels: {zone: west}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"kind":"IPAddressPool"}'
    team: blue
spec: {addresses: [192.0.2.0/28]}
status: {assignedIPv4: 3, availableIPv4: 13}
`;
    const result = convertText(text);
    expect(result.problems).to.deep.equal([]);
    expect(result.objects).to.deep.equal([
      {
        apiVersion: 'anchorlb.io/v1beta1',
        kind: 'IPAddressPool',
        metadata: { name: 'p', namespace: 'metallb-system', labels: { zone: 'west' }, annotations: { team: 'blue' } },
        spec: { addresses: ['192.0.2.0/28'] },
      },
    ]);
    const dropped = result.notes.map((note) => note.replace(/^document 1 \(IPAddressPool\/p\): /, '').split(' ')[0]);
    expect(dropped).to.have.members([
      'metadata.uid',
      'metadata.resourceVersion',
      'metadata.creationTimestamp',
      'metadata.generation',
      'metadata.managedFields',
      'metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]',
      'status',
    ]);
  });

  it('converts each item of a kubectl List', () => {
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: inputObjects(sample('ipaddresspool.yaml')).concat(inputObjects(sample('community.yaml'))),
    };
    const result = convertText(JSON.stringify(list));
    expect(result.problems).to.deep.equal([]);
    expect(result.objects.map((object) => `${object.kind as string}/${(object.metadata as Json).name as string}`)).to.deep.equal([
      'IPAddressPool/first-pool',
      'IPAddressPool/reserved',
      'IPAddressPool/team-blue',
      'Community/communities',
    ]);
  });

  it('keeps each namespace, or puts every anchorlb object in --namespace (Services stay where they are)', () => {
    const text = `${sample('ipaddresspool.yaml')}\n---\n${sample('services.yaml')}`;
    const kept = convertText(text);
    expect(kept.objects.map((object) => (object.metadata as Json).namespace)).to.deep.equal([
      'metallb-system',
      'metallb-system',
      'metallb-system',
      'default',
      'default',
    ]);
    const moved = convertText(text, 'anchorlb-system');
    expect(moved.objects.map((object) => (object.metadata as Json).namespace)).to.deep.equal([
      'anchorlb-system',
      'anchorlb-system',
      'anchorlb-system',
      'default',
      'default',
    ]);
  });
});

describe('anchorlb convert: the project\'s MetalLB-ported sample', () => {
  it('MetalLB\'s spelling of config/samples/metallb-ported converts to exactly that sample', () => {
    const ported = readFileSync(new URL('../../../config/samples/metallb-ported/metallb.yaml', import.meta.url), 'utf8');
    // The sample is a MetalLB configuration with only apiVersion changed: change it back.
    const metallb = ported
      .replace(/^apiVersion: anchorlb\.io\/v1beta1\nkind: BGPPeer$/gm, 'apiVersion: metallb.io/v1beta2\nkind: BGPPeer')
      .replace(/^apiVersion: anchorlb\.io\/v1beta1$/gm, 'apiVersion: metallb.io/v1beta1');
    expect(metallb).to.not.contain('anchorlb.io/v1beta1');
    const result = convertText(metallb);
    expect(result.problems.map(formatConversionProblem)).to.deep.equal([]);
    expect(result.objects).to.deep.equal(inputObjects(ported));
  });
});

describe('anchorlb convert: Services', () => {
  it('moves MetalLB annotations (both prefixes) to anchorlb.io/, drops ip-allocated-from-pool with a note, leaves the rest alone', () => {
    const text = sample('services.yaml');
    const result = convertText(text);
    expect(result.problems).to.deep.equal([]);
    const [webIn, apiIn] = inputObjects(text);
    const web = findObject(result.objects, 'Service', 'web');
    expect((web.metadata as Json).annotations).to.deep.equal({
      'anchorlb.io/address-pool': 'first-pool',
      'anchorlb.io/loadBalancerIPs': '192.0.2.5,2001:db8:1::5',
      'anchorlb.io/allow-shared-ip': 'web-and-api',
      'prometheus.io/scrape': 'true',
    });
    expect(web.spec).to.deep.equal(webIn?.spec);
    expect((web.metadata as Json).labels).to.deep.equal({ app: 'web' });
    const api = findObject(result.objects, 'Service', 'api');
    expect((api.metadata as Json).annotations).to.deep.equal({
      'anchorlb.io/address-pool': 'first-pool',
      'anchorlb.io/loadBalancerIPs': '192.0.2.5',
      'anchorlb.io/allow-shared-ip': 'web-and-api',
    });
    expect(api.spec).to.deep.equal(apiIn?.spec);
    expect(result.notes).to.deep.equal([
      'document 1 (Service/web): metadata.annotations["metallb.io/ip-allocated-from-pool"] dropped: written by MetalLB\'s controller; anchorlb writes its own status',
    ]);
  });

  it('keeps a loadBalancerClass, with a note that anchorlb must be set to the same class', () => {
    const result = convertText('apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: LoadBalancer, loadBalancerClass: example.com/metallb}\n');
    expect(result.problems).to.deep.equal([]);
    expect((result.objects[0]?.spec as Json).loadBalancerClass).to.equal('example.com/metallb');
    expect(result.notes).to.deep.equal([
      'document 1 (Service/s): spec.loadBalancerClass "example.com/metallb" kept: anchorlb handles this Service only if its AnchorLB\'s spec.loadBalancerClass is the same',
    ]);
  });

  it('accepts the same value under both prefixes and refuses different ones', () => {
    const service = (annotations: string): string =>
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  annotations:\n${annotations}spec: {type: LoadBalancer}\n`;
    const same = convertText(service('    metallb.io/address-pool: a\n    metallb.universe.tf/address-pool: a\n'));
    expect(same.problems).to.deep.equal([]);
    expect((same.objects[0]?.metadata as Json).annotations).to.deep.equal({ 'anchorlb.io/address-pool': 'a' });
    expect(problemLines(service('    metallb.io/address-pool: a\n    metallb.universe.tf/address-pool: b\n'))).to.deep.equal([
      'document 1 (Service/s): metadata.annotations["metallb.universe.tf/address-pool"]: "b": conflicts with metallb.io/address-pool: "a"',
    ]);
    expect(problemLines(service('    anchorlb.io/address-pool: a\n    metallb.io/address-pool: b\n'))).to.deep.equal([
      'document 1 (Service/s): metadata.annotations["metallb.io/address-pool"]: "b": conflicts with anchorlb.io/address-pool: "a"',
    ]);
  });

  it('reports malformed loadBalancerIPs and unknown MetalLB annotations by name and value', () => {
    expect(problemLines(sample('unsupported.yaml')).filter((line) => line.includes('Service/odd'))).to.deep.equal([
      'document 2 (Service/odd): metadata.annotations["metallb.universe.tf/loadBalancerIPs"]: "192.0.2.300": "192.0.2.300" is not an IPv4 or IPv6 address',
      'document 2 (Service/odd): metadata.annotations["metallb.io/some-future-knob"]: "on": not supported by anchorlb',
    ]);
    const twoV4 = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  annotations:\n    metallb.io/loadBalancerIPs: 192.0.2.1, 192.0.2.2\n';
    expect(problemLines(twoV4)).to.deep.equal([
      'document 1 (Service/s): metadata.annotations["metallb.io/loadBalancerIPs"]: "192.0.2.1, 192.0.2.2": more than one IPv4 address',
    ]);
  });
});

describe('anchorlb convert: input it refuses', () => {
  it('names unknown kinds, objects without kind, and YAML syntax errors with their line', () => {
    const text = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: controller}\n---\n- just\n- a list\n---\nkey: [unclosed\n';
    expect(problemLines(text)).to.deep.equal([
      'document 1 (Deployment/controller): kind: "Deployment": apps/v1 Deployment is not a kind anchorlb convert knows',
      'document 2: (object): ["just","a list"]: not a Kubernetes object (a map with apiVersion and kind)',
      'document 3: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 9, column 1',
    ]);
  });

  it('refuses MetalLB kinds at versions it does not know, and a missing name', () => {
    const text = 'apiVersion: metallb.io/v1beta2\nkind: IPAddressPool\nmetadata: {name: p}\n---\napiVersion: metallb.io/v1beta1\nkind: Community\nmetadata: {namespace: x}\n';
    expect(problemLines(text)).to.deep.equal([
      'document 1 (IPAddressPool/p): kind: "IPAddressPool": metallb.io/v1beta2 IPAddressPool is not a kind anchorlb convert knows',
      'document 2 (Community/<no name>): metadata.name: required',
    ]);
  });

  it('refuses fields it does not know at the top and in metadata', () => {
    const text = 'apiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: b, generateName: b-}\nspec: {}\ndata: {x: z}\n';
    expect(problemLines(text)).to.deep.equal([
      'document 1 (BFDProfile/b): data: {"x":"z"}: not supported by anchorlb',
      'document 1 (BFDProfile/b): metadata.generateName: "b-": not supported by anchorlb',
    ]);
  });

  it('refuses two objects that would land on the same kind, namespace and name', () => {
    const text = `${sample('bfdprofile.yaml')}---\n${sample('bfdprofile.yaml')}`;
    expect(problemLines(text)).to.deep.equal([
      'document 2 (BFDProfile/fast): metadata.name: "fast": BFDProfile of this name and namespace also comes from document 1 (BFDProfile/fast)',
    ]);
  });

  it('names the file a problem comes from when given one', () => {
    const result = convertManifests([{ name: 'a.yaml', text: 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n' }]);
    expect(result.problems.map(formatConversionProblem)).to.deep.equal([
      'a.yaml: document 1 (Pod/p): kind: "Pod": v1 Pod is not a kind anchorlb convert knows',
    ]);
  });
});

describe('anchorlb convert: converting its own output', () => {
  for (const file of goodSamples()) {
    it(`${file}: a second conversion changes nothing`, () => {
      const first = convertText(sample(file));
      expect(first.problems).to.deep.equal([]);
      const written = writeYamlDocuments(first.objects);
      const second = convertText(written);
      expect(second.problems).to.deep.equal([]);
      expect(second.notes).to.deep.equal([]);
      expect(second.objects).to.deep.equal(first.objects);
      expect(writeYamlDocuments(second.objects)).to.equal(written);
    });
  }
});
