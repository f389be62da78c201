import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { compile, type JSONSchema } from 'json-schema-to-typescript';
import { stringify } from 'yaml';
import { dereference, isSchemaNode, loadSchemas, type KindSchema, type SchemaNode, type SchemaSet } from './load.ts';
import { CEL_RULES } from './cel-rules.ts';

export const GROUP = 'anchorlb.io';
export const VERSION = 'v1beta1';
/** Not `anchorlb`: that is the AnchorLB kind's singular name, and kubectl would expand `kubectl get anchorlb NAME` to the category. */
export const CATEGORY = 'anchorlb-all';
export const CRD_DIR = 'crds';
export const TYPES_FILE = 'src/schemas/generated/types.ts';

/** Formats Kubernetes knows with the meaning ours have; the others are ours alone and are left out of CRDs. */
const KUBERNETES_FORMATS = new Set(['ipv4', 'ipv6', 'date-time']);
const ROOT_FIELDS = new Set(['apiVersion', 'kind', 'metadata']);
/** Keywords that only the generator, ajv or json-schema-to-typescript read. */
const NON_CRD_KEYWORDS = new Set(['$schema', '$id', 'definitions', 'title', 'x-anchorlb', 'tsType']);

function toCrdSchemaNode(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toCrdSchemaNode);
  if (!isSchemaNode(node)) return node;
  const out: SchemaNode = {};
  for (const [key, value] of Object.entries(node)) {
    if (NON_CRD_KEYWORDS.has(key)) continue;
    if (key === 'format' && !KUBERNETES_FORMATS.has(String(value))) continue;
    if (key === 'properties' && isSchemaNode(value)) {
      out.properties = Object.fromEntries(Object.entries(value).map(([name, child]) => [name, toCrdSchemaNode(child)]));
    } else {
      out[key] = key === 'default' || key === 'enum' ? value : toCrdSchemaNode(value);
    }
  }
  return { ...out, ...withValidationRules(node) };
}

/** The CEL rules of src/schemas/cel-rules.ts that belong on this node (by its title), as `x-kubernetes-validations`. */
function withValidationRules(node: SchemaNode): SchemaNode {
  const rules = typeof node.title === 'string' ? CEL_RULES[node.title] : undefined;
  return rules ? { 'x-kubernetes-validations': rules.map((rule) => ({ ...rule })) } : {};
}

/** The openAPIV3Schema of a kind: dereferenced, our own keywords and formats removed, metadata left to the API server. */
export function crdSchemaOf(kind: KindSchema, common: SchemaNode): SchemaNode {
  const schema = toCrdSchemaNode(dereference(kind.source, common)) as SchemaNode;
  const properties = isSchemaNode(schema.properties) ? schema.properties : {};
  schema.properties = {
    ...properties,
    apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
    kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
    // kube-apiserver allows nothing under the root metadata but its type (a description included).
    metadata: { type: 'object' },
  };
  // The API server fills these itself; CRDs (like controller-gen's) leave them out of required.
  const required = Array.isArray(schema.required) ? schema.required.filter((field) => !ROOT_FIELDS.has(String(field))) : [];
  if (required.length > 0) schema.required = required;
  else delete schema.required;
  return schema;
}

export function crdOf(kind: KindSchema, common: SchemaNode): SchemaNode {
  const { meta } = kind;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${meta.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: meta.kind,
        listKind: `${meta.kind}List`,
        plural: meta.plural,
        singular: meta.singular,
        shortNames: meta.shortNames,
        categories: [CATEGORY],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: meta.printerColumns,
          schema: { openAPIV3Schema: crdSchemaOf(kind, common) },
        },
      ],
    },
  };
}

/**
 * Problems Kubernetes would have with a CRD schema: keywords it rejects, and nodes
 * that are not structural (every node needs a type). Each message starts with the
 * JSON pointer of the node.
 */
export function lintCrdSchema(schema: SchemaNode, where = ''): string[] {
  const problems: string[] = [];
  const visit = (node: unknown, path: string): void => {
    if (!isSchemaNode(node)) {
      problems.push(`${where}${path}: not a schema object`);
      return;
    }
    const say = (message: string): void => {
      problems.push(`${where}${path || '/'}: ${message}`);
    };
    if ('$ref' in node) say(`$ref ${JSON.stringify(node.$ref)} left undereferenced`);
    for (const keyword of ['patternProperties', 'const', 'if', 'then', 'else', 'dependencies', 'additionalItems', '$schema', 'definitions']) {
      if (keyword in node) say(`keyword ${keyword} is not allowed in a CRD schema`);
    }
    if (node.uniqueItems === true) say('uniqueItems: true is not allowed in a CRD schema (use x-kubernetes-list-type: set)');
    for (const keyword of ['exclusiveMinimum', 'exclusiveMaximum']) {
      if (keyword in node && typeof node[keyword] !== 'boolean') say(`${keyword} must be a boolean in a CRD schema, not ${JSON.stringify(node[keyword])}`);
    }
    const preservesUnknown = node['x-kubernetes-preserve-unknown-fields'] === true || node['x-kubernetes-int-or-string'] === true;
    if (Array.isArray(node.type)) say(`type ${JSON.stringify(node.type)}: type arrays are not allowed in a CRD schema`);
    else if (typeof node.type !== 'string' && !preservesUnknown) say('no type: every node of a structural schema needs one');
    if ('properties' in node && 'additionalProperties' in node) say('properties and additionalProperties together are not allowed in a CRD schema');
    if (node['x-kubernetes-list-type'] === 'map') {
      const items = isSchemaNode(node.items) ? node.items : {};
      const required = Array.isArray(items.required) ? items.required : [];
      const keys = Array.isArray(node['x-kubernetes-list-map-keys']) ? node['x-kubernetes-list-map-keys'] : [];
      if (keys.length === 0) say('x-kubernetes-list-type map needs x-kubernetes-list-map-keys');
      for (const key of keys) if (!required.includes(key)) say(`list map key ${JSON.stringify(key)} must be required in items`);
    }
    if (isSchemaNode(node.properties)) {
      for (const [name, child] of Object.entries(node.properties)) visit(child, `${path}/properties/${name}`);
    }
    if ('items' in node) visit(node.items, `${path}/items`);
    if (isSchemaNode(node.additionalProperties)) visit(node.additionalProperties, `${path}/additionalProperties`);
    for (const keyword of ['allOf', 'anyOf', 'oneOf']) {
      const branches = node[keyword];
      if (Array.isArray(branches)) branches.forEach((branch, index) => visit(branch, `${path}/${keyword}/${index}`));
    }
  };
  visit(schema, '');
  const metadata = isSchemaNode(schema.properties) ? schema.properties.metadata : undefined;
  if (isSchemaNode(metadata)) {
    const extra = Object.keys(metadata).filter((key) => key !== 'type');
    if (extra.length > 0) problems.push(`${where}/properties/metadata: the root metadata may only say type: object (kube-apiserver refuses ${extra.join(', ')})`);
  }
  return problems;
}

/** Lint problems of every kind's CRD schema, each prefixed with the schema file. */
export function lintSchemaSet(set: SchemaSet): string[] {
  return set.kinds.flatMap((kind) => lintCrdSchema(crdSchemaOf(kind, set.common), `${kind.file}#`));
}

/** Printer columns whose JSONPath names a field the schema does not have. */
export function checkPrinterColumns(kind: KindSchema, common: SchemaNode): string[] {
  const schema = crdSchemaOf(kind, common);
  return kind.meta.printerColumns.flatMap((column) => {
    const fieldPath = column.jsonPath.replace(/\[[^\]]*\]/g, '').split('.').filter((part) => part !== '');
    // metadata is the API server's (ObjectMeta), not described in the CRD.
    if (fieldPath[0] === 'metadata') return [];
    let node: unknown = schema;
    for (const field of fieldPath) {
      if (isSchemaNode(node) && node.type === 'array') node = node.items;
      node = isSchemaNode(node) && isSchemaNode(node.properties) ? node.properties[field] : undefined;
    }
    return node === undefined ? [`${kind.file}: printer column ${column.name}: ${column.jsonPath} is not a field of the schema`] : [];
  });
}

/**
 * Prepares a schema for json-schema-to-typescript: a `$ref` to a titled shared definition
 * stays a reference (one declared type, e.g. LabelSelector); an untitled one (SelectorList,
 * Duration) is inlined, so fields do not get numbered alias types.
 */
function prepareForTypes(node: unknown, commonDefinitions: SchemaNode): unknown {
  if (Array.isArray(node)) return node.map((item) => prepareForTypes(item, commonDefinitions));
  if (!isSchemaNode(node)) return node;
  let out: SchemaNode = {};
  const ref = node.$ref;
  if (typeof ref === 'string') {
    const name = ref.split('/').pop() ?? '';
    const target = commonDefinitions[name];
    if (isSchemaNode(target) && typeof target.title === 'string') return { $ref: `#/definitions/${name}` };
    if (isSchemaNode(target)) out = prepareForTypes(target, commonDefinitions) as SchemaNode;
  }
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema' || key === '$id' || key === 'x-anchorlb' || key === '$ref') continue;
    out[key] = key === 'default' || key === 'enum' ? value : prepareForTypes(value, commonDefinitions);
  }
  return out;
}

/** TypeScript types for every kind and shared definition, from one combined schema so shared types are declared once. */
export async function renderTypes(set: SchemaSet): Promise<string> {
  const commonDefinitions = isSchemaNode(set.common.definitions) ? set.common.definitions : {};
  const titled = Object.entries(commonDefinitions).filter(([, definition]) => isSchemaNode(definition) && typeof definition.title === 'string');
  const combined = {
    title: 'AnchorLBObject',
    description: 'Any anchorlb object.',
    anyOf: set.kinds.map((kind) => ({ $ref: `#/definitions/${kind.meta.kind}` })),
    definitions: {
      ...Object.fromEntries(titled.map(([name, definition]) => [name, prepareForTypes(definition, commonDefinitions)])),
      ...Object.fromEntries(set.kinds.map((kind) => [kind.meta.kind, prepareForTypes(kind.source, commonDefinitions)])),
    },
  };
  return compile(combined as JSONSchema, 'AnchorLBObject', {
    additionalProperties: false,
    bannerComment: '/* Generated by scripts/gen.ts from src/schemas/*.schema.json; do not edit. */',
    unreachableDefinitions: true,
    // Lists bounded for the API server's CEL cost estimate (maxItems 16 and more) stay plain arrays, not tuple unions.
    maxItems: 8,
    strictIndexSignatures: true,
    unknownAny: true,
    format: true,
    style: { singleQuote: true, printWidth: 120 },
  });
}

export function renderCrd(kind: KindSchema, common: SchemaNode): string {
  const header = `# Generated by scripts/gen.ts from src/schemas/${kind.file}; do not edit.\n`;
  return header + stringify(crdOf(kind, common), { lineWidth: 0 });
}

export function crdFileOf(kind: KindSchema): string {
  return `${CRD_DIR}/${GROUP}_${kind.meta.plural}.yaml`;
}

/** Every generated file, by path relative to the repository root. Throws when the schemas fail the lint. */
export async function renderOutputs(schemaDir: string): Promise<Map<string, string>> {
  const set = loadSchemas(schemaDir);
  const problems = [...lintSchemaSet(set), ...set.kinds.flatMap((kind) => checkPrinterColumns(kind, set.common))];
  if (problems.length > 0) throw new Error(`schema lint failed:\n  ${problems.join('\n  ')}`);
  const outputs = new Map<string, string>();
  for (const kind of set.kinds) outputs.set(crdFileOf(kind), renderCrd(kind, set.common));
  outputs.set(TYPES_FILE, await renderTypes(set));
  return outputs;
}

/** Writes every output, and removes the files of `ownedDirs` that no output is any more. */
export function writeOutputs(rootDir: string, outputs: Map<string, string>, ownedDirs: readonly string[] = [CRD_DIR]): void {
  for (const path of unproducedFiles(rootDir, outputs, ownedDirs)) rmSync(join(rootDir, path));
  for (const [path, content] of outputs) {
    mkdirSync(dirname(join(rootDir, path)), { recursive: true });
    writeFileSync(join(rootDir, path), content);
  }
}

/** YAML files of the generated directories that no output produces. */
function unproducedFiles(rootDir: string, outputs: Map<string, string>, ownedDirs: readonly string[]): string[] {
  return ownedDirs.flatMap((dir) =>
    existsSync(join(rootDir, dir))
      ? readdirSync(join(rootDir, dir))
          .sort()
          .map((file) => `${dir}/${file}`)
          .filter((path) => path.endsWith('.yaml') && !outputs.has(path))
      : [],
  );
}

/** Generated files that are missing or differ on disk, and files of the generated directories nothing produces any more. */
export function findDrift(rootDir: string, outputs: Map<string, string>, ownedDirs: readonly string[] = [CRD_DIR]): string[] {
  const stale: string[] = [];
  for (const [path, content] of outputs) {
    const file = join(rootDir, path);
    if (!existsSync(file)) stale.push(`${path} (missing)`);
    else if (readFileSync(file, 'utf8') !== content) stale.push(`${path} (differs)`);
  }
  for (const path of unproducedFiles(rootDir, outputs, ownedDirs)) stale.push(`${path} (nothing generates it)`);
  return stale;
}
