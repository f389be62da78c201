import { expect } from 'chai';
import fc from 'fast-check';
import { dereference, loadSchemas } from '../../../src/schemas/load.ts';
import { API_VERSION, formatProblem, validateBGPAdvertisement, validateIPAddressPool, validateManifests, validateObject, type IPAddressPool } from '../../../src/api/index.ts';

const pool: IPAddressPool = {
  apiVersion: API_VERSION,
  kind: 'IPAddressPool',
  metadata: { name: 'public', namespace: 'anchorlb-system' },
  spec: { addresses: ['192.0.2.0/28', '2001:db8::/120'] },
};

describe('validateObject', () => {
  it('accepts a valid object', () => {
    expect(validateObject(pool)).to.deep.equal([]);
  });

  it('reports every problem, each with the field, the value and the rule', () => {
    const problems = validateObject({ ...pool, spec: { addresses: ['192.0.2.0/28', '10.0.0.9-10.0.0.1', 7], avoidBuggyIPs: 'no' } });
    expect(problems.map(formatProblem)).to.have.members([
      'spec.addresses[1]: "10.0.0.9-10.0.0.1": range start is after its end',
      'spec.addresses[2]: 7: must be a string',
      'spec.avoidBuggyIPs: "no": must be a boolean',
    ]);
  });

  it('turns ajv limits into dotted paths with the value', () => {
    const peer = { apiVersion: API_VERSION, kind: 'BGPPeer', metadata: { name: 'p' }, spec: { myASN: 64500, peerASN: 4294967296, peerAddress: '192.0.2.1' } };
    expect(validateObject(peer).map(formatProblem)).to.deep.equal(['spec.peerASN: 4294967296: must be at most 4294967295']);
  });

  it('names unknown kinds and foreign apiVersions', () => {
    expect(validateObject({ apiVersion: API_VERSION, kind: 'Pool' })[0]?.path).to.equal('kind');
    expect(validateObject({ apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool' })[0]?.path).to.equal('apiVersion');
    expect(validateObject('text')[0]?.message).to.contain('must be an object');
  });

  it('never throws when every known field holds a value of any type', () => {
    const { kinds, common } = loadSchemas();
    const wrongly = (properties: unknown) =>
      fc.dictionary(fc.constantFrom(...Object.keys(properties as Record<string, unknown>)), fc.oneof(fc.anything(), fc.array(fc.anything()), fc.string()));
    const objects = fc.constantFrom(...kinds).chain((kind) => {
      const properties = dereference(kind.source, common).properties as Record<string, { properties?: unknown }>;
      return fc.record({
        apiVersion: fc.constant(API_VERSION),
        kind: fc.constant(kind.meta.kind),
        metadata: fc.record({ name: fc.string() }),
        spec: properties.spec?.properties ? wrongly(properties.spec.properties) : fc.constant(undefined),
        status: properties.status?.properties ? wrongly(properties.status.properties) : fc.constant(undefined),
      });
    });
    fc.assert(fc.property(objects, (object) => {
      for (const problem of validateObject(object)) {
        expect(problem.path).to.be.a('string');
        expect(problem.message).to.not.contain('internal validation error');
      }
    }), { numRuns: 500 });
  });

  it('never throws, whatever it is given', () => {
    const kinds = fc.constantFrom('IPAddressPool', 'L2Advertisement', 'BGPAdvertisement', 'BGPPeer', 'BFDProfile', 'Community', 'VIPStatus', 'AnchorLB');
    const object = fc.record({ apiVersion: fc.constant(API_VERSION), kind: kinds, metadata: fc.anything(), spec: fc.anything(), status: fc.anything() });
    fc.assert(fc.property(fc.oneof(fc.anything(), object), (value) => {
      expect(validateObject(value)).to.be.an('array');
    }), { numRuns: 300 });
  });
});

describe('semantic validators with context', () => {
  it('a pool overlapping another pool names the other pool', () => {
    const other = { ...pool, metadata: { name: 'other' }, spec: { addresses: ['192.0.2.8/29'] } };
    expect(validateIPAddressPool(pool, { pools: [pool, other] }).map(formatProblem)).to.deep.equal([
      'spec.addresses[0]: "192.0.2.0/28": overlaps "192.0.2.8/29" of IPAddressPool other',
    ]);
  });

  it('an aggregation length shorter than a range of the pool is refused, an equal one accepted', () => {
    const ranged = { ...pool, spec: { addresses: ['192.0.2.0-192.0.2.7', '2001:db8::/120'] } };
    const advertisement = (aggregationLength: number) => ({ spec: { ipAddressPools: ['public'], aggregationLength } });
    expect(validateBGPAdvertisement(advertisement(29), { pools: [ranged] })).to.deep.equal([]);
    expect(validateBGPAdvertisement(advertisement(28), { pools: [ranged] }).map(formatProblem)).to.deep.equal([
      'spec.aggregationLength: 28: shorter than the /29 prefix of "192.0.2.0-192.0.2.7" in IPAddressPool public',
    ]);
  });
});

describe('validateManifests', () => {
  it('gives each document its index, kind, name and problems; skips empty documents', () => {
    const text = `apiVersion: ${API_VERSION}\nkind: IPAddressPool\nmetadata: {name: a}\nspec: {addresses: [192.0.2.0/28]}\n---\n---\napiVersion: ${API_VERSION}\nkind: BFDProfile\nmetadata: {name: b}\nspec: {detectMultiplier: 1}\n`;
    const results = validateManifests(text);
    expect(results.map(({ index, kind, name }) => ({ index, kind, name }))).to.deep.equal([
      { index: 0, kind: 'IPAddressPool', name: 'a' },
      { index: 2, kind: 'BFDProfile', name: 'b' },
    ]);
    expect(results[1]?.problems.map(formatProblem)).to.deep.equal(['spec.detectMultiplier: 1: must be at least 2']);
  });

  it('reports broken YAML as a problem instead of throwing', () => {
    const results = validateManifests('kind: [unclosed\n');
    expect(results[0]?.problems[0]?.message).to.match(/^YAML: /);
  });
});
