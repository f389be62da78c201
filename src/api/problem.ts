/** A problem with one field of an object: where, what was there, what is wrong. */
export interface Problem {
  /** Field path in dotted form with indexes: spec.addresses[1]; '' for the object itself. */
  path: string;
  value: unknown;
  message: string;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** Appends a property name or an array index to a field path. */
export function fieldPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (!IDENTIFIER.test(key)) return `${base}[${JSON.stringify(key)}]`;
  return base === '' ? key : `${base}.${key}`;
}

const MAX_VALUE_LENGTH = 80;

function renderValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > MAX_VALUE_LENGTH ? `${text.slice(0, MAX_VALUE_LENGTH - 1)}…` : text;
}

/** `spec.addresses[1]: "10.0.0.9-10.0.0.1": range start is after its end`; the value is left out when absent. */
export function formatProblem(problem: Problem): string {
  const where = problem.path === '' ? '(object)' : problem.path;
  return problem.value === undefined ? `${where}: ${problem.message}` : `${where}: ${renderValue(problem.value)}: ${problem.message}`;
}
