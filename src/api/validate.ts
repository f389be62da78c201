/** Whole-object validation: schema (ajv) first, then the semantic rules of the kind. Never throws. */
import type { ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { API_VERSION, KINDS, type KindName } from './kinds.ts';
import type { Problem } from './problem.ts';
import { compileKindValidators, problemFromAjvError } from './schema.ts';
import {
  validateAnchorLB,
  validateBFDProfile,
  validateBGPAdvertisement,
  validateBGPPeer,
  validateCommunity,
  validateIPAddressPool,
  validateL2Advertisement,
  validateVIPStatus,
  type ValidationContext,
} from './semantic.ts';

const SEMANTIC_VALIDATORS: Record<KindName, (object: unknown, context: ValidationContext) => Problem[]> = {
  IPAddressPool: validateIPAddressPool,
  L2Advertisement: validateL2Advertisement,
  BGPAdvertisement: validateBGPAdvertisement,
  BGPPeer: validateBGPPeer,
  BFDProfile: validateBFDProfile,
  Community: validateCommunity,
  VIPStatus: validateVIPStatus,
  AnchorLB: validateAnchorLB,
};

let schemaValidators: Map<string, ValidateFunction> | undefined;

function isKindName(kind: unknown): kind is KindName {
  return typeof kind === 'string' && (KINDS as readonly string[]).includes(kind);
}

function safely(where: string, run: () => Problem[]): Problem[] {
  try {
    return run();
  } catch (error) {
    return [{ path: where, value: undefined, message: `internal validation error: ${error instanceof Error ? error.message : String(error)}` }];
  }
}

/** Schema problems, then semantic ones at paths the schema found nothing wrong with. */
export function validateObject(object: unknown, context: ValidationContext = {}): Problem[] {
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    return [{ path: '', value: object, message: 'must be an object with apiVersion, kind, metadata' }];
  }
  const { apiVersion, kind } = object as Record<string, unknown>;
  if (!isKindName(kind)) {
    return [{ path: 'kind', value: kind, message: `must be one of ${KINDS.join(', ')}` }];
  }
  if (apiVersion !== API_VERSION) {
    return [{ path: 'apiVersion', value: apiVersion, message: `must be ${API_VERSION}` }];
  }
  return safely('', () => {
    schemaValidators ??= compileKindValidators();
    const validate = schemaValidators.get(kind);
    if (!validate) return [{ path: 'kind', value: kind, message: 'has no schema' }];
    const problems: Problem[] = [];
    const reported = new Set<string>();
    // A field failing both its pattern and its format gets one problem.
    for (const error of validate(object) ? [] : (validate.errors ?? [])) {
      const problem = problemFromAjvError(error, object);
      const key = `${problem.path}\n${problem.message}`;
      if (reported.has(key)) continue;
      reported.add(key);
      problems.push(problem);
    }
    const reportedPaths = new Set(problems.map((problem) => problem.path));
    const semantic = SEMANTIC_VALIDATORS[kind](object, context).filter((problem) => !reportedPaths.has(problem.path));
    return [...problems, ...semantic];
  });
}

export interface ManifestResult {
  /** Position of the document in the stream, from 0. */
  index: number;
  kind?: string;
  name?: string;
  problems: Problem[];
}

/**
 * Validates every document of a multi-document YAML stream. Empty documents are
 * skipped; objects of the same stream serve as context for each other (pool overlaps,
 * community aliases, BFD profiles).
 */
export function validateManifests(yamlText: string): ManifestResult[] {
  const documents = safelyParse(yamlText);
  if (!Array.isArray(documents)) return [{ index: 0, problems: [documents] }];
  const objects = documents.map((document) => document.object);
  // A kind absent from the stream stays unknown (undefined), so references to it are not judged.
  const ofKind = (kind: KindName): unknown[] | undefined => {
    const found = objects.filter((object) => (object as { kind?: unknown } | null)?.kind === kind);
    return found.length > 0 ? found : undefined;
  };
  const context: ValidationContext = { pools: ofKind('IPAddressPool'), communities: ofKind('Community'), bfdProfiles: ofKind('BFDProfile') };
  return documents.flatMap(({ object, error }, index) => {
    if (object === null || object === undefined) return error ? [{ index, problems: [error] }] : [];
    const fields = typeof object === 'object' ? (object as Record<string, unknown>) : {};
    const metadata = fields.metadata as Record<string, unknown> | undefined;
    const result: ManifestResult = { index, problems: error ? [error] : validateObject(object, context) };
    if (typeof fields.kind === 'string') result.kind = fields.kind;
    if (typeof metadata?.name === 'string') result.name = metadata.name;
    return [result];
  });
}

function safelyParse(yamlText: string): { object: unknown; error?: Problem }[] | Problem {
  try {
    return parseAllDocuments(yamlText).map((document) => {
      const first = document.errors[0];
      if (first) return { object: undefined, error: { path: '', value: undefined, message: `YAML: ${first.message.split('\n')[0] ?? ''}` } };
      return { object: document.toJS() as unknown };
    });
  } catch (error) {
    return { path: '', value: undefined, message: `YAML: ${error instanceof Error ? error.message : String(error)}` };
  }
}
