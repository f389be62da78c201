/**
 * Conformance of the local API server's CRD validation rules with the Kubernetes
 * documentation ("Validation rules" in "Extend the Kubernetes API with
 * CustomResourceDefinitions"): the examples there, with the errors it shows.
 */
import { expect } from 'chai';
import { ruleProblems, validateRules } from '../../../src/localcluster/cel.ts';

type Rule = { rule: string; message?: string; messageExpression?: string; fieldPath?: string; reason?: string };

function crd(spec: Record<string, unknown>, rules: Rule[]) {
  return { type: 'object', properties: { spec: { type: 'object', properties: spec, 'x-kubernetes-validations': rules } } };
}

const replicas = { minReplicas: { type: 'integer' }, replicas: { type: 'integer' }, maxReplicas: { type: 'integer' } };

describe('localcluster: CRD validation rules (x-kubernetes-validations)', () => {
  it('evaluates rules with self bound to the node; a failed rule without message says "failed rule: RULE"', () => {
    const schema = crd(replicas, [{ rule: 'self.minReplicas <= self.replicas' }, { rule: 'self.replicas <= self.maxReplicas', message: 'replicas should be smaller than or equal to maxReplicas.' }]);
    expect(validateRules(schema, { spec: { minReplicas: 1, replicas: 3, maxReplicas: 5 } }, undefined)).to.deep.equal([]);
    expect(validateRules(schema, { spec: { minReplicas: 4, replicas: 3, maxReplicas: 2 } }, undefined)).to.deep.equal([
      { reason: 'FieldValueInvalid', field: 'spec', message: 'Invalid value: "object": failed rule: self.minReplicas <= self.replicas' },
      { reason: 'FieldValueInvalid', field: 'spec', message: 'Invalid value: "object": replicas should be smaller than or equal to maxReplicas.' },
    ]);
  });

  it('uses messageExpression for the message, falling back to message when it gives a blank string', () => {
    const schema = crd({ x: { type: 'integer' }, maxLimit: { type: 'integer' } }, [
      { rule: 'self.x <= self.maxLimit', messageExpression: '"x exceeded max limit of " + string(self.maxLimit)' },
      { rule: 'self.x > 0', message: 'x must be positive', messageExpression: '""' },
    ]);
    expect(validateRules(schema, { spec: { x: 0, maxLimit: -1 } }, undefined).map((cause) => cause.message)).to.deep.equal([
      'Invalid value: "object": x exceeded max limit of -1',
      'Invalid value: "object": x must be positive',
    ]);
  });

  it('reports on fieldPath with the reason asked for', () => {
    const schema = crd({ x: { type: 'integer' }, maxLimit: { type: 'integer' } }, [
      { rule: 'self.x <= self.maxLimit', reason: 'FieldValueForbidden', fieldPath: '.x', message: 'x is over the limit' },
    ]);
    expect(validateRules(schema, { spec: { x: 5, maxLimit: 1 } }, undefined)).to.deep.equal([{ reason: 'FieldValueForbidden', field: 'spec.x', message: 'Forbidden: x is over the limit' }]);
  });

  it('evaluates transition rules (oldSelf) only on update, when the old object has the field', () => {
    const schema = { type: 'object', properties: { spec: { type: 'object', properties: { name: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'Value is immutable' }] } } } } };
    expect(validateRules(schema, { spec: { name: 'a' } }, undefined)).to.deep.equal([]);
    expect(validateRules(schema, { spec: { name: 'b' } }, { spec: {} })).to.deep.equal([]);
    expect(validateRules(schema, { spec: { name: 'b' } }, { spec: { name: 'a' } })).to.deep.equal([{ reason: 'FieldValueInvalid', field: 'spec.name', message: 'Invalid value: "string": Value is immutable' }]);
  });

  it('runs the rules of list items and map values at each one, with has() for optional fields', () => {
    const item = { type: 'object', properties: { operator: { type: 'string' }, values: { type: 'array', items: { type: 'string' } } }, 'x-kubernetes-validations': [{ rule: "self.operator != 'In' || (has(self.values) && size(self.values) > 0)", message: 'In needs values' }] };
    const schema = { type: 'object', properties: { spec: { type: 'object', properties: { list: { type: 'array', items: item }, map: { type: 'object', additionalProperties: item } } } } };
    const causes = validateRules(schema, { spec: { list: [{ operator: 'In', values: ['x'] }, { operator: 'In' }], map: { a: { operator: 'In', values: [] } } } }, undefined);
    expect(causes.map((cause) => cause.field)).to.deep.equal(['spec.list[1]', 'spec.map.a']);
  });

  it('does not judge again what an update leaves unchanged (ratcheting)', () => {
    const schema = crd(replicas, [{ rule: 'self.minReplicas <= self.replicas' }]);
    const stored = { spec: { minReplicas: 4, replicas: 3 } };
    expect(validateRules(schema, { spec: { minReplicas: 4, replicas: 3 }, status: { ready: true } }, stored)).to.deep.equal([]);
    expect(validateRules(schema, { spec: { minReplicas: 5, replicas: 3 } }, stored)).to.have.length(1);
  });

  it('refuses a CRD whose rule does not compile, naming it', () => {
    expect(ruleProblems(crd(replicas, [{ rule: 'self.replicas <=' }]))[0]).to.match(/^properties\[spec\]\.x-kubernetes-validations\[0\]: compilation failed: /);
  });
});
