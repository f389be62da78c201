/** Where a converted object came from, so every problem and note names its document. */
export interface DocumentRef {
  /** File name; absent for standard input. */
  source?: string;
  /** 1-based position in its YAML stream. */
  index: number;
  /** 1-based position inside a `kind: List` document. */
  item?: number;
  kind?: string;
  name?: string;
}

export interface ConversionProblem {
  /** e.g. `in.yaml: document 3 (BGPPeer/peer-a)` */
  document: string;
  /** e.g. `spec.vrf` */
  path: string;
  value: unknown;
  message: string;
}

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describeDocument(ref: DocumentRef): string {
  const what = ref.kind === undefined ? '' : ` (${ref.kind}/${ref.name ?? '<no name>'})`;
  const where = ref.source === undefined ? '' : `${ref.source}: `;
  const item = ref.item === undefined ? '' : `, item ${ref.item}`;
  return `${where}document ${ref.index}${item}${what}`;
}

/** `spec` + `vrf` → `spec.vrf`; keys that are not plain words are bracketed (`annotations["a.b/c"]`). */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  const plain = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key);
  if (parent === '') return plain ? key : `[${JSON.stringify(key)}]`;
  return plain ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

const MAX_VALUE_CHARS = 80;

function showValue(value: unknown): string {
  const text = value === undefined ? 'undefined' : JSON.stringify(value);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}

/** `document 3 (BGPPeer/peer-a): spec.vrf: "red": not supported by anchorlb`; an empty path or a missing value is left out. */
export function formatConversionProblem(problem: ConversionProblem): string {
  const parts = [problem.document];
  if (problem.path !== '') parts.push(problem.path);
  if (problem.value !== undefined) parts.push(showValue(problem.value));
  parts.push(problem.message);
  return parts.join(': ');
}

/**
 * Collects what happened to one input document: problems (the conversion fails)
 * and notes (something was deliberately left out or renamed, said out loud so
 * nothing is dropped silently).
 */
export class DocumentReport {
  readonly problems: ConversionProblem[] = [];
  readonly notes: string[] = [];

  constructor(private readonly ref: DocumentRef) {}

  get label(): string {
    return describeDocument(this.ref);
  }

  /** Names the document by the object it holds, once that is known. */
  identify(kind: string | undefined, name: string | undefined): void {
    this.ref.kind = kind;
    this.ref.name = name;
  }

  problem(path: string, value: unknown, message: string): void {
    this.problems.push({ document: this.label, path, value, message });
  }

  note(message: string): void {
    this.notes.push(`${this.label}: ${message}`);
  }
}
