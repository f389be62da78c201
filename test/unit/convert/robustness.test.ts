import { expect } from 'chai';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { convertManifests, formatConversionProblem } from '../../../src/convert/index.ts';

const API_VERSIONS = ['metallb.io/v1alpha1', 'metallb.io/v1beta1', 'metallb.io/v1beta2', 'anchorlb.io/v1beta1', 'v1', 'apps/v1'];
const KINDS = ['AddressPool', 'IPAddressPool', 'L2Advertisement', 'BGPAdvertisement', 'BGPPeer', 'BFDProfile', 'Community', 'ServiceL2Status', 'Service', 'ConfigMap', 'List'];

/** Objects shaped like manifests, with anything at all where the fields go. */
const manifest = fc.record(
  {
    apiVersion: fc.constantFrom(...API_VERSIONS),
    kind: fc.constantFrom(...KINDS),
    metadata: fc.oneof(fc.record({ name: fc.string(), namespace: fc.string(), annotations: fc.dictionary(fc.string(), fc.jsonValue()) }, { requiredKeys: [] }), fc.jsonValue()),
    spec: fc.jsonValue(),
    data: fc.oneof(fc.record({ config: fc.string() }), fc.jsonValue()),
    items: fc.array(fc.jsonValue(), { maxLength: 3 }),
    status: fc.jsonValue(),
  },
  { requiredKeys: ['apiVersion', 'kind'] },
);

function expectWellFormed(result: ReturnType<typeof convertManifests>): void {
  for (const problem of result.problems) {
    expect(formatConversionProblem(problem)).to.match(/^document \d+/);
    expect(problem.message).to.be.a('string').and.not.equal('');
  }
}

describe('anchorlb convert: never crashes on bad input', () => {
  it('arbitrary text gives objects or problems, never an exception', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        expectWellFormed(convertManifests([{ text }]));
      }),
      { numRuns: 200 },
    );
  });

  it('manifest-shaped objects with arbitrary fields give objects or problems, never an exception', () => {
    fc.assert(
      fc.property(fc.array(manifest, { minLength: 1, maxLength: 4 }), (objects) => {
        const text = objects.map((object) => stringify(object)).join('---\n');
        expectWellFormed(convertManifests([{ text }]));
      }),
      { numRuns: 200 },
    );
  });

  it('legacy ConfigMaps with arbitrary sections give objects or problems, never an exception', () => {
    const section = fc.constantFrom('peers', 'address-pools', 'bfd-profiles', 'bgp-communities', 'other');
    const config = fc.dictionary(section, fc.oneof(fc.jsonValue(), fc.array(fc.dictionary(fc.string(), fc.jsonValue()))));
    fc.assert(
      fc.property(config, (legacy) => {
        const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'config' }, data: { config: stringify(legacy) } };
        expectWellFormed(convertManifests([{ text: stringify(configMap) }]));
      }),
      { numRuns: 200 },
    );
  });
});
