import { parseAllDocuments, stringify, type Document, type DocumentOptions, type ParseOptions, type SchemaOptions, type Tags } from 'yaml';
import type { JsonObject } from './report.ts';

/**
 * Read YAML the way kubectl does (YAML 1.1: `yes`/`on` are booleans, `0755` is
 * octal), except base-60 numbers and timestamps, which Kubernetes' decoder does not
 * have: `64512:1` stays a community string.
 */
const NOT_IN_KUBERNETES = new Set(['intTime', 'floatTime', 'timestamp']);

function withoutBase60OrTimestamps(tags: Tags): Tags {
  return tags.filter((tag) =>
    typeof tag === 'string'
      ? !NOT_IN_KUBERNETES.has(tag)
      : tag.format !== 'TIME' && tag.tag !== 'tag:yaml.org,2002:timestamp',
  );
}

const READ_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1',
  customTags: withoutBase60OrTimestamps,
};

export interface YamlDocument {
  /** 1-based position in the stream. */
  index: number;
  value: unknown;
  /** Syntax errors, each with its line. */
  errors: string[];
}

/** Every non-empty document of a multi-document YAML text. */
export function readYamlDocuments(text: string): YamlDocument[] {
  const documents: YamlDocument[] = [];
  parseAllDocuments(text, READ_OPTIONS).forEach((document: Document, position) => {
    // The message's first line names the line and column; a code frame follows it.
    const errors = document.errors.map((error) => (error.message.split('\n')[0] ?? '').replace(/:$/, ''));
    if (errors.length > 0) {
      documents.push({ index: position + 1, value: undefined, errors });
      return;
    }
    let value: unknown;
    try {
      value = document.toJS();
    } catch (error) {
      // toJS refuses alias bombs (too many alias expansions) and alias loops.
      documents.push({ index: position + 1, value: undefined, errors: [(error as Error).message] });
      return;
    }
    if (value !== null && value !== undefined) documents.push({ index: position + 1, value, errors });
  });
  return documents;
}

/**
 * A multi-document YAML stream; strings a YAML 1.1 reader (kubectl) would take
 * for something else (`"yes"`, `"0123"`) are quoted.
 */
export function writeYamlDocuments(objects: JsonObject[]): string {
  return objects.map((object) => stringify(object, { version: '1.1' })).join('---\n');
}
