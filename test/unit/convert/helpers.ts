import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SAMPLES_DIR = fileURLToPath(new URL('../../data/metallb/', import.meta.url));

export function sample(name: string): string {
  return readFileSync(`${SAMPLES_DIR}${name}`, 'utf8');
}

/** Sample files that convert without problems (everything but the deliberately bad one). */
export function goodSamples(): string[] {
  return readdirSync(SAMPLES_DIR).filter((name) => name.endsWith('.yaml') && name !== 'unsupported.yaml').sort();
}

/** Every leaf of a JSON value as [steps, value]; steps are keys and indices from the root. */
export function leaves(value: unknown, steps: (string | number)[] = []): [(string | number)[], unknown][] {
  if (Array.isArray(value)) return value.flatMap((item, index) => leaves(item, [...steps, index]));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) => leaves(item, [...steps, key]));
  }
  return [[steps, value]];
}

/** The value at `steps` (as made by `leaves`), or undefined. */
export function at(value: unknown, steps: readonly (string | number)[]): unknown {
  return steps.reduce<unknown>((node, step) => {
    if (typeof node !== 'object' || node === null) return undefined;
    return (node as Record<string | number, unknown>)[step];
  }, value);
}

export function showSteps(steps: readonly (string | number)[]): string {
  return steps.map((step) => (typeof step === 'number' ? `[${step}]` : `.${step}`)).join('').replace(/^\./, '');
}
