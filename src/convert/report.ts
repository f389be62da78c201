import { formatProblem, type Problem } from '../api/index.ts';

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

/** A field problem (path, value, message) and the input document it was found in. */
export interface ConversionProblem extends Problem {
  /** e.g. `in.yaml: document 3 (BGPPeer/peer-a)` */
  document: string;
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

/** `document 3 (BGPPeer/peer-a): spec.vrf: "red": not supported by anchorlb`; a problem of the whole document shows no path. */
export function formatConversionProblem(problem: ConversionProblem): string {
  const { document, ...fieldProblem } = problem;
  if (fieldProblem.path === '' && fieldProblem.value === undefined) return `${document}: ${fieldProblem.message}`;
  return `${document}: ${formatProblem(fieldProblem)}`;
}

/**
 * Collects what happened to one input document: problems (the conversion fails)
 * and notes (something was deliberately left out or renamed, said out loud so
 * nothing is dropped silently).
 */
export class DocumentReport {
  readonly problems: ConversionProblem[] = [];
  readonly notes: string[] = [];
  /** Lists some items were dropped from: for each, the input index of every kept item. */
  private readonly renumbered = new Map<string, number[]>();

  constructor(private readonly ref: DocumentRef) {}

  /** Items of the list at `path` were dropped; `kept[i]` is the input index of the converted object's item i. */
  renumber(path: string, kept: number[]): void {
    this.renumbered.set(path, kept);
  }

  /** A path in the converted object as the path of the same field in the input document. */
  inputPath(path: string): string {
    for (const [list, kept] of this.renumbered) {
      const index = path.startsWith(list) ? /^\[(\d+)\]/.exec(path.slice(list.length)) : null;
      const original = index === null ? undefined : kept[Number(index[1])];
      if (index !== null && original !== undefined) {
        return `${list}[${original}]${path.slice(list.length + index[0].length)}`;
      }
    }
    return path;
  }

  get label(): string {
    return describeDocument(this.ref);
  }

  /** Names the document by the object it holds, once that is known. */
  identify(kind: string | undefined, name: string | undefined): void {
    this.ref.kind = kind;
    this.ref.name = name;
  }

  /** Whether this document is the object `kind`/`name` itself (not, say, a ConfigMap it was made from). */
  describes(kind: string, name: string): boolean {
    return this.ref.kind === kind && this.ref.name === name;
  }

  problem(path: string, value: unknown, message: string): void {
    this.problems.push({ document: this.label, path, value, message });
  }

  note(message: string): void {
    this.notes.push(`${this.label}: ${message}`);
  }
}
