import { expect } from 'chai';
import { evaluateJsonPath, parseJsonPath } from '../../../src/localcluster/jsonpath.ts';

const object = {
  metadata: { name: 'pool', annotations: { 'anchorlb.io/x': 'y' } },
  spec: { addresses: ['192.0.2.0/28', '2001:db8::/120'] },
  status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'Degraded', status: 'False' }] },
};

function run(path: string): unknown[] {
  return evaluateJsonPath(parseJsonPath(path), object);
}

describe('localcluster printer-column JSONPath', () => {
  it('reads fields, indexes, wildcards, quoted keys and filters', () => {
    expect(run('.metadata.name')).to.deep.equal(['pool']);
    expect(run('.spec.addresses[1]')).to.deep.equal(['2001:db8::/120']);
    expect(run('.spec.addresses[*]')).to.deep.equal(object.spec.addresses);
    expect(run(".metadata.annotations['anchorlb.io/x']")).to.deep.equal(['y']);
    expect(run('.status.conditions[?(@.type=="Ready")].status')).to.deep.equal(['True']);
    expect(run('{.status.conditions[?(@.type!="Ready")].type}')).to.deep.equal(['Degraded']);
  });

  it('returns nothing for absent fields', () => {
    expect(run('.status.missing.deeper')).to.deep.equal([]);
    expect(run('.spec.addresses[5]')).to.deep.equal([]);
  });

  it('refuses expressions it cannot read, naming them', () => {
    expect(() => parseJsonPath('.spec[')).to.throw(/invalid JSONPath ".spec\["/);
    expect(() => parseJsonPath('.a[?(@.x > 1)]')).to.throw(/unsupported/);
  });
});
