import { badRequest } from './errors.ts';
import { isJsonObject, type KubeObject } from './types.ts';

/**
 * Label selectors (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`)
 * and field selectors (`path=value`, `path==value`, `path!=value`), as the API
 * server parses them from the `labelSelector` / `fieldSelector` query parameters.
 */

export type LabelRequirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!exists' };

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Splits on commas outside parentheses. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else current += ch;
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

function checkKey(key: string, selector: string): string {
  if (!LABEL_KEY.test(key) || key.length > 316) throw badRequest(`unable to parse requirement: invalid label key "${key}" in selector "${selector}"`);
  return key;
}

function checkValue(value: string, selector: string): string {
  if (!LABEL_VALUE.test(value) || value.length > 63) throw badRequest(`unable to parse requirement: invalid label value "${value}" in selector "${selector}"`);
  return value;
}

export function parseLabelSelector(selector: string): LabelRequirement[] {
  return splitTerms(selector).map((term): LabelRequirement => {
    const setMatch = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
    if (setMatch) {
      const values = (setMatch[3] ?? '').split(',').map((v) => checkValue(v.trim(), selector));
      return { key: checkKey(setMatch[1] ?? '', selector), op: setMatch[2] === 'in' ? 'in' : 'notin', values };
    }
    const eqMatch = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (eqMatch) {
      const key = checkKey(eqMatch[1] ?? '', selector);
      const values = [checkValue(eqMatch[3] ?? '', selector)];
      return { key, op: eqMatch[2] === '!=' ? 'notin' : 'in', values };
    }
    if (term.startsWith('!')) return { key: checkKey(term.slice(1).trim(), selector), op: '!exists' };
    if (/^\S+$/.test(term)) return { key: checkKey(term, selector), op: 'exists' };
    throw badRequest(`unable to parse requirement: couldn't parse the selector string "${selector}"`);
  });
}

export function matchesLabels(requirements: LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  return requirements.every((req) => {
    const value = labels?.[req.key];
    switch (req.op) {
      case 'exists':
        return value !== undefined;
      case '!exists':
        return value === undefined;
      case 'in':
        return value !== undefined && req.values.includes(value);
      case 'notin':
        return value === undefined || !req.values.includes(value);
    }
  });
}

export function parseFieldSelector(selector: string): FieldRequirement[] {
  return splitTerms(selector).map((term) => {
    const match = /^([^=!]+)(==|=|!=)(.*)$/.exec(term);
    if (!match) throw badRequest(`invalid field selector: "${term}" is not of the form field=value or field!=value`);
    return { field: (match[1] ?? '').trim(), op: match[2] === '!=' ? '!=' : '=', value: (match[3] ?? '').trim() };
  });
}

/** Reads a dotted field path (`spec.nodeName`, `involvedObject.kind`) as the string a field selector compares. */
export function fieldValue(object: KubeObject, field: string): string {
  let current: unknown = object;
  for (const part of field.split('.')) {
    current = isJsonObject(current) ? current[part] : undefined;
  }
  if (current === undefined || current === null) return '';
  return typeof current === 'string' ? current : JSON.stringify(current);
}

export function matchesFields(requirements: FieldRequirement[], object: KubeObject): boolean {
  return requirements.every((req) => (fieldValue(object, req.field) === req.value) === (req.op === '='));
}
