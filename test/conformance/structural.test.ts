// Structural schemas: what a CRD's openAPIV3Schema must be for the API server to accept it.
// Docs: kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema
// ("a non-empty type … for the root, for each specified field of an object node and for each item in
// an array node"; "for each field in an x-kubernetes-validations …"; "metadata … only restrictions on
// metadata.name and metadata.generateName are allowed"; additionalProperties and properties are
// mutually exclusive; x-kubernetes-embedded-resource, x-kubernetes-int-or-string, x-kubernetes-list-type
// and x-kubernetes-map-type where they may stand), and
// kubernetes.io/docs/reference/using-api/server-side-apply/#merge-strategy (list and map types).
import { expect } from 'chai';
import { field, ignoreNotFound, uniqueName, useConformanceTarget } from './support.ts';

const CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const GROUP = 'structural.conformance.anchorlb.io';

type Schema = Record<string, unknown>;

const crd = (plural: string, schema: Schema) => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.${GROUP}` },
  spec: {
    group: GROUP,
    scope: 'Namespaced',
    names: { plural, singular: plural.slice(0, -1), kind: 'Gadget', listKind: 'GadgetList' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: schema } }],
  },
});

const object = (properties: Schema, extra: Schema = {}): Schema => ({ type: 'object', properties, ...extra });

/** Each case: a schema kube-apiserver refuses, and the cause it names (after `openAPIV3Schema`). */
const REFUSED: [string, Schema, string][] = [
  ['the root metadata says anything but its type (a description)', object({ metadata: { type: 'object', description: 'Standard object metadata.' } }), '.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified'],
  ['the root metadata restricts another field than name and generateName', object({ metadata: object({ labels: { type: 'object' } }) }), '.properties[metadata]: Forbidden: must not specify anything other than name and generateName'],
  ['the root has no type', { properties: { spec: { type: 'object' } } }, '.type: Required value: must not be empty at the root'],
  ['the root is not an object', { type: 'string' }, '.type: Invalid value: "string": must be object at the root'],
  ['a field has no type', object({ spec: object({ size: { description: 'no type' } }) }), '.properties[spec].properties[size].type: Required value: must not be empty for specified object fields'],
  ['array items have no type', object({ spec: object({ tags: { type: 'array', items: { description: 'no type' } } }) }), '.properties[spec].properties[tags].items.type: Required value: must not be empty for specified array items'],
  ['an array has no items', object({ spec: object({ tags: { type: 'array' } }) }), '.properties[spec].properties[tags].items: Required value: must be specified'],
  ['properties and additionalProperties together', object({ spec: object({ a: { type: 'string' } }, { additionalProperties: { type: 'string' } }) }), '.properties[spec].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive'],
  ['additionalProperties at the root', { type: 'object', additionalProperties: { type: 'string' } }, '.additionalProperties: Forbidden: must not be used at the root'],
  ['a value validation (anyOf) says a type', object({ spec: object({ size: { type: 'string', anyOf: [{ type: 'string', maxLength: 3 }, { pattern: '^a' }] } }) }), '.properties[spec].properties[size].anyOf[0].type: Forbidden: must be empty to be structural'],
  ['x-kubernetes-list-type on an object', object({ spec: object({ a: { type: 'string' } }, { 'x-kubernetes-list-type': 'set' }) }), '.properties[spec].type: Invalid value: "object": must be array if x-kubernetes-list-type is specified'],
  ['x-kubernetes-list-map-keys naming no item property', object({ spec: object({ ports: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['port'], items: object({ name: { type: 'string' } }, { required: ['name'] }) } }) }), '.properties[spec].properties[ports].x-kubernetes-list-map-keys: Invalid value: ["port"]: entries must all be names of item properties'],
  ['x-kubernetes-map-type on an array', object({ spec: object({ tags: { type: 'array', items: { type: 'string' }, 'x-kubernetes-map-type': 'atomic' } }) }), '.properties[spec].properties[tags].type: Invalid value: "array": must be object if x-kubernetes-map-type is specified'],
  ['x-kubernetes-int-or-string with x-kubernetes-preserve-unknown-fields', object({ spec: object({ port: { 'x-kubernetes-int-or-string': true, 'x-kubernetes-preserve-unknown-fields': true } }) }), '.properties[spec].properties[port].x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if x-kubernetes-int-or-string is true'],
  ['x-kubernetes-embedded-resource on a string', object({ spec: object({ template: { type: 'string', 'x-kubernetes-embedded-resource': true } }) }), '.properties[spec].properties[template].type: Invalid value: "string": must be object if x-kubernetes-embedded-resource is true'],
];

describe('conformance: structural schemas of custom resources', function () {
  const target = useConformanceTarget();

  for (const [what, schema, cause] of REFUSED) {
    it(`refuses a CRD where ${what}`, async () => {
      const plural = uniqueName('gadgets').replace(/[^a-z0-9]/g, '');
      const response = await target.raw(CRD_PATH, { method: 'POST', body: crd(plural, schema) });
      if (response.status === 201) target.deferCleanup(() => ignoreNotFound(target.raw(`${CRD_PATH}/${plural}.${GROUP}`, { method: 'DELETE' })));
      expect(response.status, response.text).to.equal(422);
      expect(field(response.json, 'reason')).to.equal('Invalid');
      const message = String(field(response.json, 'message'));
      expect(message).to.contain(`CustomResourceDefinition.apiextensions.k8s.io "${plural}.${GROUP}" is invalid: `);
      expect(message).to.match(new RegExp(`(spec\\.validation|spec\\.versions\\[0\\]\\.schema)\\.openAPIV3Schema${cause.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    });
  }

  it('names every violation at once, in brackets, each with its field', async () => {
    const plural = uniqueName('gadgets').replace(/[^a-z0-9]/g, '');
    const schema = object({ metadata: { type: 'object', description: 'd' }, spec: object({ size: { description: 'no type' } }) });
    const response = await target.raw(CRD_PATH, { method: 'POST', body: crd(plural, schema) });
    if (response.status === 201) target.deferCleanup(() => ignoreNotFound(target.raw(`${CRD_PATH}/${plural}.${GROUP}`, { method: 'DELETE' })));
    expect(response.status, response.text).to.equal(422);
    const message = String(field(response.json, 'message'));
    expect(message).to.match(/ is invalid: \[.*openAPIV3Schema\.properties\[metadata\]: Forbidden: .*, .*openAPIV3Schema\.properties\[spec\]\.properties\[size\]\.type: Required value: .*\]$/);
    const causes = field(response.json, 'details', 'causes') as { field?: string }[];
    expect(causes.map((cause) => cause.field?.replace(/^.*openAPIV3Schema/, ''))).to.include.members(['.properties[metadata]', '.properties[spec].properties[size].type']);
  });

  it('accepts a root metadata that restricts only name and generateName, and int-or-string and list-map fields where they belong', async () => {
    const plural = uniqueName('gadgets').replace(/[^a-z0-9]/g, '');
    const schema = object({
      metadata: object({ name: { type: 'string', maxLength: 20 }, generateName: { type: 'string', maxLength: 15 } }),
      spec: object({
        port: { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] },
        ports: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], items: object({ name: { type: 'string' } }, { required: ['name'] }) },
        labels: { type: 'object', additionalProperties: { type: 'string' }, 'x-kubernetes-map-type': 'atomic' },
        template: { type: 'object', 'x-kubernetes-embedded-resource': true, 'x-kubernetes-preserve-unknown-fields': true },
      }),
    });
    const response = await target.raw(CRD_PATH, { method: 'POST', body: crd(plural, schema) });
    target.deferCleanup(() => ignoreNotFound(target.raw(`${CRD_PATH}/${plural}.${GROUP}`, { method: 'DELETE' })));
    expect(response.status, response.text).to.equal(201);
  });
});
