import { expect } from 'chai';
import fc from 'fast-check';
import { holdsAll } from '../../../src/operator/drift.ts';

describe('operator drift detection', () => {
  const desired = { spec: { replicas: 1, template: { spec: { containers: [{ name: 'c', image: 'a:1', args: ['x', 'y'] }] } } } };

  it('accepts a live object with server defaults and extra fields added', () => {
    const live = { metadata: { uid: 'u' }, spec: { replicas: 1, revisionHistoryLimit: 10, template: { spec: { restartPolicy: 'Always', containers: [{ name: 'c', image: 'a:1', args: ['x', 'y'], imagePullPolicy: 'IfNotPresent' }] } } }, status: {} };
    expect(holdsAll(desired, live)).to.equal(true);
  });

  it('sees a changed value, a missing field, a changed list length and a wrong type', () => {
    const drifted = structuredClone(desired);
    const container = drifted.spec.template.spec.containers[0];
    if (container) container.image = 'a:2';
    expect(holdsAll(desired, drifted)).to.equal(false);
    expect(holdsAll(desired, { spec: { template: desired.spec.template } })).to.equal(false);
    expect(holdsAll(desired, { spec: { ...desired.spec, template: { spec: { containers: [] } } } })).to.equal(false);
    expect(holdsAll({ a: ['x'] }, { a: { 0: 'x' } })).to.equal(false);
    expect(holdsAll({ a: { b: 1 } }, { a: null })).to.equal(false);
  });

  it('holds for any JSON value against itself and against itself with fields added', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(holdsAll(value, structuredClone(value))).to.equal(true);
        if (typeof value === 'object' && value !== null && !Array.isArray(value) && !Object.hasOwn(value, 'extra-field')) {
          expect(holdsAll(value, { ...value, ['extra-field']: 1 })).to.equal(true);
        }
      }),
    );
  });
});
