import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A JSON Schema node as read from disk. */
export type SchemaNode = { [keyword: string]: unknown };

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

/** The CRD facts a kind schema carries in its root `x-anchorlb` keyword. */
export interface KindMeta {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  printerColumns: PrinterColumn[];
}

export interface KindSchema {
  /** File name inside the schema directory, e.g. ipaddresspool.schema.json. */
  file: string;
  meta: KindMeta;
  /** The schema as written, `$ref`s included. */
  source: SchemaNode;
}

export interface SchemaSet {
  common: SchemaNode;
  kinds: KindSchema[];
}

export const COMMON_SCHEMA_FILE = 'common.schema.json';
export const SCHEMA_DIR = fileURLToPath(new URL('.', import.meta.url));

export function isSchemaNode(value: unknown): value is SchemaNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readJson(path: string): SchemaNode {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!isSchemaNode(parsed)) throw new Error(`${path}: not a JSON object`);
  return parsed;
}

function kindMetaOf(file: string, schema: SchemaNode): KindMeta {
  const meta = schema['x-anchorlb'];
  if (!isSchemaNode(meta) || typeof meta.kind !== 'string' || typeof meta.plural !== 'string' || typeof meta.singular !== 'string') {
    throw new Error(`${file}: root keyword x-anchorlb must give kind, plural and singular`);
  }
  return {
    kind: meta.kind,
    plural: meta.plural,
    singular: meta.singular,
    shortNames: Array.isArray(meta.shortNames) ? meta.shortNames.map(String) : [],
    printerColumns: Array.isArray(meta.printerColumns) ? (meta.printerColumns as PrinterColumn[]) : [],
  };
}

/** Reads common.schema.json and every other *.schema.json (one kind each), in file-name order. */
export function loadSchemas(dir: string = SCHEMA_DIR): SchemaSet {
  const common = readJson(join(dir, COMMON_SCHEMA_FILE));
  const kinds = readdirSync(dir)
    .filter((file) => file.endsWith('.schema.json') && file !== COMMON_SCHEMA_FILE)
    .sort()
    .map((file) => {
      const source = readJson(join(dir, file));
      return { file, meta: kindMetaOf(file, source), source };
    });
  return { common, kinds };
}

function lookupPointer(doc: SchemaNode, pointer: string): SchemaNode | undefined {
  let node: unknown = doc;
  for (const raw of pointer.split('/').filter((part) => part !== '')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = isSchemaNode(node) ? node[part] : undefined;
  }
  return isSchemaNode(node) ? node : undefined;
}

/**
 * Inlines every `$ref` into `common.schema.json#/...` or the same document's `#/...`.
 * Keywords beside a `$ref` override the referenced ones (so a field can give its own
 * description). A `$ref` that does not resolve is left in place for the lint to report.
 */
export function dereference(schema: SchemaNode, common: SchemaNode): SchemaNode {
  const visit = (node: unknown, home: SchemaNode, seen: readonly string[]): unknown => {
    if (Array.isArray(node)) return node.map((item) => visit(item, home, seen));
    if (!isSchemaNode(node)) return node;
    const out: SchemaNode = {};
    const ref = node.$ref;
    if (typeof ref === 'string') {
      const [file, pointer = ''] = ref.split('#');
      const target = file === '' ? home : file === COMMON_SCHEMA_FILE ? common : undefined;
      const resolved = target && lookupPointer(target, pointer);
      if (resolved) {
        if (seen.includes(ref)) throw new Error(`circular $ref ${ref}`);
        Object.assign(out, visit(resolved, target, [...seen, ref]));
      } else {
        out.$ref = ref;
      }
    }
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref') continue;
      // Keywords whose values are data, not schemas, are copied as they are.
      out[key] = key === 'default' || key === 'enum' || key === 'x-anchorlb' ? value : visit(value, home, seen);
    }
    return out;
  };
  return visit(schema, schema, []) as SchemaNode;
}
