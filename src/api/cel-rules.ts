/**
 * The single-object rules of semantic.ts that CEL can say, as CRD validation
 * rules (`x-kubernetes-validations`): the API server refuses a bad object at the
 * door, no webhook needed (GA in Kubernetes 1.29). `make gen` writes each list
 * on the schema node with that `title`; the project's API server evaluates them
 * (src/localcluster/cel.ts). Each rule points at its field (`fieldPath`) and its
 * message gives the value (unless it is a secret) in semantic.ts's words. Rules on list items need the lists bounded
 * (`maxItems`), and the strings they match or concatenate a `maxLength` (or an `enum`), or
 * kube-apiserver's cost estimate refuses the CRD; `string()` of a number has no size bound in
 * that estimate at all (a messageExpression using it is refused), so messages give strings only.
 */

export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  /** Relative to the node, as Kubernetes wants it: `.field`. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** A label key: an optional DNS-subdomain prefix and "/", then a name (semantic.ts's labelKeyError, lengths aside). */
const LABEL_KEY = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$';

/** A positive Go duration ("0" alone is zero; CEL's duration() reads the rest). */
const positiveDuration = (field: string) => `!has(self.${field}) || (self.${field} != '0' && duration(self.${field}) > duration('0s'))`;

export const CEL_RULES: Readonly<Record<string, readonly CelRule[]>> = {
  LabelSelectorRequirement: [
    {
      rule: "!(self.operator in ['In', 'NotIn']) || (has(self.values) && size(self.values) > 0)",
      messageExpression: "'operator ' + self.operator + ' needs at least one value'",
      fieldPath: '.values',
      reason: 'FieldValueRequired',
    },
    {
      rule: "!(self.operator in ['Exists', 'DoesNotExist']) || !has(self.values) || size(self.values) == 0",
      messageExpression: "'operator ' + self.operator + ' takes no values'",
      fieldPath: '.values',
    },
    {
      rule: `self.key.matches('${LABEL_KEY}')`,
      messageExpression: `'"' + self.key + '": must be a label key: letters, digits, "-", "_" or "." (after an optional DNS-subdomain prefix and "/"), starting and ending with a letter or digit'`,
      fieldPath: '.key',
    },
  ],
  Toleration: [
    {
      rule: "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",
      messageExpression: "'\"' + self.value + '\": must be empty when operator is Exists'",
      fieldPath: '.value',
    },
    {
      rule: "(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",
      message: 'must be Exists when key is empty',
      fieldPath: '.operator',
    },
    {
      rule: "!has(self.key) || self.key == '' || self.key.matches('" + LABEL_KEY + "')",
      messageExpression: `'"' + self.key + '": must be a label key'`,
      fieldPath: '.key',
    },
    {
      rule: "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
      message: 'applies only to effect NoExecute',
      fieldPath: '.tolerationSeconds',
    },
  ],
  LivenessSpec: [{ rule: positiveDuration('heartbeatInterval'), messageExpression: "'\"' + self.heartbeatInterval + '\": must be more than 0s'", fieldPath: '.heartbeatInterval' }],
  BGPPeerSpec: [
    {
      rule: '!(has(self.peerASN) && has(self.dynamicASN))',
      messageExpression: "'\"' + self.dynamicASN + '\": not with spec.peerASN: give one or the other'",
      fieldPath: '.dynamicASN',
      reason: 'FieldValueForbidden',
    },
    { rule: 'has(self.peerASN) || has(self.dynamicASN)', message: 'is required unless spec.dynamicASN is set', fieldPath: '.peerASN', reason: 'FieldValueRequired' },
    {
      rule: '!(has(self.peerAddress) && has(self.interface))',
      messageExpression: "'\"' + self.interface + '\": not with spec.peerAddress: give one or the other'",
      fieldPath: '.interface',
      reason: 'FieldValueForbidden',
    },
    { rule: 'has(self.peerAddress) || has(self.interface)', message: 'is required unless spec.interface is set', fieldPath: '.peerAddress', reason: 'FieldValueRequired' },
    // The password is a secret: the message leaves the value out.
    { rule: '!(has(self.password) && has(self.passwordSecret))', message: 'not with spec.password: give one or the other', fieldPath: '.passwordSecret', reason: 'FieldValueForbidden' },
  ],
};
