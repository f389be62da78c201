import { expect } from 'chai';
import { SchemaCompiler, applyDefaults, pruneUnknownFields } from '../../../src/localcluster/schema.ts';

const schema = {
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      required: ['size'],
      properties: {
        size: { type: 'integer', minimum: 1, maximum: 10 },
        color: { type: 'string', enum: ['red', 'blue'], default: 'red' },
        addresses: { type: 'array', maxItems: 2, items: { type: 'string', format: 'cidr' } },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        nested: { type: 'object', default: {}, properties: { mode: { type: 'string', default: 'auto' } } },
      },
    },
    status: { type: 'object', properties: { phase: { type: 'string' } } },
  },
};

describe('localcluster structural schemas (CRD openAPIV3Schema)', () => {
  it('prunes undeclared fields, keeping apiVersion/kind/metadata, maps and preserved subtrees', () => {
    const object = { apiVersion: 'x/v1', kind: 'W', metadata: { name: 'w', anything: 1 }, spec: { size: 1, extra: true, labels: { a: 'b' }, free: { deep: { x: 1 } } }, top: 1 };
    expect(pruneUnknownFields(object, schema)).to.deep.equal(['spec.extra', 'top']);
    expect(object).to.deep.equal({ apiVersion: 'x/v1', kind: 'W', metadata: { name: 'w', anything: 1 }, spec: { size: 1, labels: { a: 'b' }, free: { deep: { x: 1 } } } });
  });

  it('applies defaults to absent fields, recursing into defaulted objects', () => {
    const object = { spec: { size: 2 } };
    applyDefaults(object, schema);
    expect(object).to.deep.equal({ spec: { size: 2, color: 'red', nested: { mode: 'auto' } } });
    const explicit = { spec: { size: 2, color: 'blue', nested: { mode: 'manual' } } };
    applyDefaults(explicit, schema);
    expect(explicit.spec).to.deep.equal({ size: 2, color: 'blue', nested: { mode: 'manual' } });
  });

  it('validates, naming each bad field as kube-apiserver does', () => {
    const validate = new SchemaCompiler().compile(schema);
    expect(validate({ spec: { size: 3, addresses: ['192.0.2.0/24'] } })).to.deep.equal([]);
    const causes = validate({ spec: { size: 42, color: 'purple', addresses: ['a', 'b', 'c'] } });
    const byField = Object.fromEntries(causes.map((c) => [c.field, c]));
    expect(byField['spec.size']?.reason).to.equal('FieldValueInvalid');
    expect(byField['spec.color']?.reason).to.equal('FieldValueNotSupported');
    expect(byField['spec.color']?.message).to.contain('supported values: "red", "blue"');
    expect(byField['spec.addresses']?.reason).to.equal('FieldValueTooMany');
    expect(byField['spec.addresses[0]']?.message).to.contain('"a"');
    expect(validate({ spec: {} }).map((c) => [c.field, c.reason])).to.deep.equal([['spec.size', 'FieldValueRequired']]);
    expect(validate({ spec: { size: 'three' } })[0]?.message).to.contain('must be of type integer');
  });

  it('ignores whatever metadata holds (the server validates metadata itself)', () => {
    const validate = new SchemaCompiler().compile({ ...schema, properties: { ...schema.properties, metadata: { type: 'object', required: ['never'] } } });
    expect(validate({ metadata: { name: 'x' }, spec: { size: 1 } })).to.deep.equal([]);
  });

  it('refuses a schema that does not compile, saying why', () => {
    expect(() => new SchemaCompiler().compile({ type: 'object', properties: { a: { type: 'no-such-type' } } })).to.throw(/openAPIV3Schema does not compile/);
  });
});
