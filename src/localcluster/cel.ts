/**
 * CRD validation rules (`x-kubernetes-validations`), evaluated as kube-apiserver
 * does: each rule of a schema node sees the node's value as `self`; a rule that
 * reads `oldSelf` is a transition rule, evaluated only on update when the old
 * object has the node too; `message`, `messageExpression`, `fieldPath` and
 * `reason` shape the error; a part an update leaves unchanged is not judged
 * again (validation ratcheting). CEL itself is @marcbachmann/cel-js.
 */
import { isDeepStrictEqual } from 'node:util';
import { parse, type ParseResult } from '@marcbachmann/cel-js';
import type { StatusCause } from './errors.ts';
import { isJsonObject, type JsonObject } from './types.ts';

interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
}

const compiled = new Map<string, ParseResult>();

/** Parses once per expression text; throws the library's error for an expression that does not parse. */
function program(expression: string): ParseResult {
  let parsed = compiled.get(expression);
  if (parsed === undefined) {
    parsed = parse(expression);
    compiled.set(expression, parsed);
  }
  return parsed;
}

function rulesOf(schema: JsonObject): ValidationRule[] {
  const rules = schema['x-kubernetes-validations'];
  return Array.isArray(rules) ? rules.filter(isJsonObject).filter((rule): rule is JsonObject & ValidationRule => typeof rule.rule === 'string') : [];
}

/** Every rule of a schema, checked for syntax (a CRD with a rule that does not parse is refused); returns the problems. */
export function ruleProblems(schema: unknown, path = ''): string[] {
  if (!isJsonObject(schema)) return [];
  const problems: string[] = [];
  for (const [i, rule] of rulesOf(schema).entries()) {
    for (const expression of [rule.rule, rule.messageExpression]) {
      if (expression === undefined) continue;
      try {
        program(expression);
      } catch (error) {
        problems.push(`${path}x-kubernetes-validations[${i}]: compilation failed: ${(error as Error).message}`);
      }
    }
  }
  const properties = isJsonObject(schema.properties) ? schema.properties : {};
  for (const [name, child] of Object.entries(properties)) problems.push(...ruleProblems(child, `${path}properties[${name}].`));
  if (isJsonObject(schema.items)) problems.push(...ruleProblems(schema.items, `${path}items.`));
  if (isJsonObject(schema.additionalProperties)) problems.push(...ruleProblems(schema.additionalProperties, `${path}additionalProperties.`));
  return problems;
}

/** JSON as CEL sees it under a schema: integers are CEL ints (bigint), numbers doubles. */
function toCel(value: unknown, schema: JsonObject | undefined): unknown {
  if (typeof value === 'number') return schema?.type === 'integer' && Number.isInteger(value) ? BigInt(value) : value;
  const items = schema && isJsonObject(schema.items) ? schema.items : undefined;
  if (Array.isArray(value)) return value.map((item) => toCel(item, items));
  if (!isJsonObject(value)) return value;
  const properties = schema && isJsonObject(schema.properties) ? schema.properties : {};
  const additional = schema && isJsonObject(schema.additionalProperties) ? schema.additionalProperties : undefined;
  return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, toCel(child, isJsonObject(properties[key]) ? properties[key] : additional)]));
}

function typeName(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'object' : typeof value;
}

/** The cause kube-apiserver reports for a failed rule (field.Invalid with the type name, or the reason asked for). */
function causeOf(rule: ValidationRule, field: string, value: unknown, message: string): StatusCause {
  switch (rule.reason) {
    case 'FieldValueForbidden':
      return { reason: 'FieldValueForbidden', field, message: `Forbidden: ${message}` };
    case 'FieldValueRequired':
      return { reason: 'FieldValueRequired', field, message: `Required value: ${message}` };
    case 'FieldValueDuplicate':
      return { reason: 'FieldValueDuplicate', field, message: `Duplicate value: ${JSON.stringify(typeName(value))}: ${message}` };
    default:
      return { reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(typeName(value))}: ${message}` };
  }
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

function evaluateRule(rule: ValidationRule, schema: JsonObject, value: unknown, old: unknown, path: string): StatusCause | undefined {
  const transition = /\boldSelf\b/.test(rule.rule);
  if (transition && old === undefined) return undefined;
  const context = { self: toCel(value, schema), ...(transition ? { oldSelf: toCel(old, schema) } : {}) };
  const field = rule.fieldPath ? `${path}${rule.fieldPath.startsWith('.') ? '' : '.'}${rule.fieldPath}`.replace(/^\./, '') : path;
  let result: unknown;
  try {
    result = program(rule.rule)(context);
  } catch (error) {
    return { reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(typeName(value))}: rule ${JSON.stringify(rule.rule)} could not be evaluated: ${(error as Error).message}` };
  }
  if (result === true) return undefined;
  let message = rule.message ?? `failed rule: ${rule.rule}`;
  if (rule.messageExpression !== undefined) {
    try {
      const text: unknown = program(rule.messageExpression)(context);
      // kube-apiserver falls back to message when messageExpression gives an empty or blank string.
      if (typeof text === 'string' && text.trim() !== '') message = text;
    } catch {
      // An error in messageExpression falls back to message, as kube-apiserver does.
    }
  }
  return causeOf(rule, field, value, message);
}

/**
 * The causes of every failed rule in `value` (a whole object under its
 * openAPIV3Schema); `old` is the stored object on update, for transition rules.
 */
export function validateRules(schema: JsonObject, value: unknown, old: unknown, path = ''): StatusCause[] {
  // Ratcheting (kube-apiserver 1.30+): a part an update leaves unchanged is not judged again.
  if (value === undefined || (old !== undefined && isDeepStrictEqual(value, old))) return [];
  const causes: StatusCause[] = [];
  for (const rule of rulesOf(schema)) {
    const cause = evaluateRule(rule, schema, value, old, path);
    if (cause) causes.push(cause);
  }
  const oldObject = isJsonObject(old) ? old : undefined;
  if (Array.isArray(value) && isJsonObject(schema.items)) {
    // Only list-type map items are correlated with their old selves; others see no oldSelf.
    const keys = schema['x-kubernetes-list-type'] === 'map' && Array.isArray(schema['x-kubernetes-list-map-keys']) ? schema['x-kubernetes-list-map-keys'].map(String) : undefined;
    const oldItems = Array.isArray(old) ? old : [];
    value.forEach((item, i) => {
      const previous = keys && isJsonObject(item) ? oldItems.find((candidate) => isJsonObject(candidate) && keys.every((key) => candidate[key] === item[key])) : undefined;
      causes.push(...validateRules(schema.items as JsonObject, item, previous, join(path, i)));
    });
  } else if (isJsonObject(value)) {
    const properties = isJsonObject(schema.properties) ? schema.properties : {};
    const additional = isJsonObject(schema.additionalProperties) ? schema.additionalProperties : undefined;
    for (const [key, child] of Object.entries(value)) {
      const childSchema = isJsonObject(properties[key]) ? properties[key] : additional;
      if (childSchema) causes.push(...validateRules(childSchema, child, oldObject?.[key], join(path, key)));
    }
  }
  return causes;
}
