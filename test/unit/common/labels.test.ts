import { expect } from 'chai';
import { matchesAnySelector, matchesLabelSelector } from '../../../src/common/labels.ts';

describe('common/labels: LabelSelector matching', () => {
  const labels = { zone: 'a', role: 'edge', 'kubernetes.io/hostname': 'node1' };

  it('matches matchLabels only when every pair is present with that value', () => {
    expect(matchesLabelSelector({ matchLabels: { zone: 'a', role: 'edge' } }, labels)).to.equal(true);
    expect(matchesLabelSelector({ matchLabels: { zone: 'b' } }, labels)).to.equal(false);
    expect(matchesLabelSelector({ matchLabels: { missing: 'x' } }, labels)).to.equal(false);
  });

  it('implements In, NotIn, Exists and DoesNotExist', () => {
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }, labels)).to.equal(true);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['c'] }] }, labels)).to.equal(false);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['c'] }] }, labels)).to.equal(true);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'absent', operator: 'NotIn', values: ['c'] }] }, labels)).to.equal(true);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, labels)).to.equal(false);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'role', operator: 'Exists' }] }, labels)).to.equal(true);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'absent', operator: 'Exists' }] }, labels)).to.equal(false);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'absent', operator: 'DoesNotExist' }] }, labels)).to.equal(true);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'role', operator: 'DoesNotExist' }] }, labels)).to.equal(false);
  });

  it('selects nothing with an operator it does not know', () => {
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'zone', operator: 'Gt', values: ['1'] }] }, labels)).to.equal(false);
  });

  it('treats an empty selector as everything and a list as any-of (MetalLB nodeSelectors)', () => {
    expect(matchesLabelSelector({}, undefined)).to.equal(true);
    expect(matchesAnySelector(undefined, labels)).to.equal(true);
    expect(matchesAnySelector([], labels)).to.equal(true);
    expect(matchesAnySelector([{ matchLabels: { zone: 'b' } }, { matchLabels: { role: 'edge' } }], labels)).to.equal(true);
    expect(matchesAnySelector([{ matchLabels: { zone: 'b' } }], labels)).to.equal(false);
  });
});
