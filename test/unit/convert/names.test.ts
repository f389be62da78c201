import { expect } from 'chai';
import fc from 'fast-check';
import { isDnsLabel, toDnsLabel, withSuffix } from '../../../src/convert/names.ts';

describe('convert: object names from legacy names', () => {
  it('any string becomes a valid DNS label, or is refused', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), (name) => {
        const label = toDnsLabel(name);
        if (label !== undefined) expect(isDnsLabel(label), label).to.equal(true);
        else expect(/[a-z0-9]/i.test(name), name).to.equal(false);
      }),
    );
  });

  it('a name that is already a DNS label is kept as it is', () => {
    const labels = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
    fc.assert(
      fc.property(labels, (label) => {
        expect(toDnsLabel(label)).to.equal(label);
      }),
    );
  });

  it('suffixed names stay valid labels and keep the suffix', () => {
    const labels = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
    fc.assert(
      fc.property(labels, fc.integer({ min: 1, max: 999 }), (label, n) => {
        const suffixed = withSuffix(label, String(n));
        expect(isDnsLabel(suffixed), suffixed).to.equal(true);
        expect(suffixed.endsWith(`-${n}`)).to.equal(true);
      }),
    );
  });

  it('maps the shapes legacy ConfigMaps used', () => {
    expect(toDnsLabel('Production_Pool')).to.equal('production-pool');
    expect(toDnsLabel('my pool (v4)')).to.equal('my-pool-v4');
    expect(toDnsLabel('x'.repeat(70))).to.equal('x'.repeat(63));
    expect(toDnsLabel('--__--')).to.equal(undefined);
  });
});
