/** A Kubernetes LabelSelector (metav1.LabelSelector) as plain data. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | string; values?: string[] }>;
}

export type Labels = Record<string, string> | undefined;

/**
 * Whether labels match a selector with Kubernetes semantics: every matchLabels
 * pair and every expression must hold; an empty selector matches everything.
 * An unknown operator matches nothing (a selector we cannot read selects no one).
 */
export function matchesLabelSelector(selector: LabelSelector, labels: Labels): boolean {
  const have = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (have[key] !== value) return false;
  }
  for (const expression of selector.matchExpressions ?? []) {
    const present = Object.prototype.hasOwnProperty.call(have, expression.key);
    const value = have[expression.key];
    const values = expression.values ?? [];
    switch (expression.operator) {
      case 'In':
        if (!present || !values.includes(value as string)) return false;
        break;
      case 'NotIn':
        if (present && values.includes(value as string)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** MetalLB's rule for selector lists: none given selects everything, otherwise any one must match. */
export function matchesAnySelector(selectors: LabelSelector[] | undefined, labels: Labels): boolean {
  if (!selectors || selectors.length === 0) return true;
  return selectors.some((selector) => matchesLabelSelector(selector, labels));
}
