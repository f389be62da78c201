import { isJsonObject } from './types.ts';

/**
 * The subset of Kubernetes JSONPath that printer columns use: `.a.b`, `.a[0]`,
 * `.a[*].b`, `.a['x.y']` and filters `.a[?(@.type=="Ready")].status`.
 * Returns every match in order.
 */

type Step = { kind: 'field'; name: string } | { kind: 'index'; index: number } | { kind: 'all' } | { kind: 'filter'; path: string[]; op: '==' | '!='; value: string };

export function parseJsonPath(expression: string): Step[] {
  let text = expression.trim();
  if (text.startsWith('{') && text.endsWith('}')) text = text.slice(1, -1);
  if (text.startsWith('$')) text = text.slice(1);
  const steps: Step[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '.') {
      const match = /^\.([A-Za-z0-9_\-$]+)/.exec(text.slice(i));
      if (!match) throw new Error(`invalid JSONPath ${JSON.stringify(expression)} at offset ${i}`);
      steps.push({ kind: 'field', name: match[1] ?? '' });
      i += match[0].length;
    } else if (ch === '[') {
      const end = text.indexOf(']', i);
      if (end < 0) throw new Error(`invalid JSONPath ${JSON.stringify(expression)}: unclosed [`);
      const inner = text.slice(i + 1, end).trim();
      i = end + 1;
      if (inner === '*') steps.push({ kind: 'all' });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (/^'.*'$|^".*"$/.test(inner)) steps.push({ kind: 'field', name: inner.slice(1, -1) });
      else {
        const filter = /^\?\(@((?:\.[A-Za-z0-9_-]+)+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|(\S+))\)$/.exec(inner);
        if (!filter) throw new Error(`invalid JSONPath ${JSON.stringify(expression)}: unsupported [${inner}]`);
        steps.push({ kind: 'filter', path: (filter[1] ?? '').slice(1).split('.'), op: filter[2] === '!=' ? '!=' : '==', value: filter[3] ?? filter[4] ?? filter[5] ?? '' });
      }
    } else throw new Error(`invalid JSONPath ${JSON.stringify(expression)} at offset ${i}`);
  }
  return steps;
}

function readPath(value: unknown, path: string[]): unknown {
  let current = value;
  for (const part of path) current = isJsonObject(current) ? current[part] : undefined;
  return current;
}

export function evaluateJsonPath(steps: Step[], root: unknown): unknown[] {
  let current: unknown[] = [root];
  for (const step of steps) {
    const next: unknown[] = [];
    for (const value of current) {
      if (step.kind === 'field') {
        if (isJsonObject(value) && value[step.name] !== undefined) next.push(value[step.name]);
      } else if (!Array.isArray(value)) {
        continue;
      } else if (step.kind === 'index') {
        const item = value.at(step.index);
        if (item !== undefined) next.push(item);
      } else if (step.kind === 'all') {
        next.push(...value);
      } else {
        for (const item of value) {
          const actual = readPath(item, step.path);
          const text = typeof actual === 'string' ? actual : JSON.stringify(actual);
          if ((text === step.value) === (step.op === '==')) next.push(item);
        }
      }
    }
    current = next;
  }
  return current;
}
