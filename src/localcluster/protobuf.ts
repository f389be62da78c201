import { ApiError } from './errors.ts';
import type { JsonObject } from './types.ts';

/**
 * Decoding of the Kubernetes protobuf encoding for the few request bodies kubectl
 * sends that way (its typed clients: `create namespace|configmap|secret|serviceaccount|
 * role|rolebinding|clusterrole|clusterrolebinding|token|service|deployment`, `auth can-i`,
 * delete options). Fields kubectl's typed commands do not set are skipped. Responses stay JSON,
 * which clients accept. Other kinds are refused with 415 naming the kind.
 */

type Scalar = 'string' | 'bytes' | 'int' | 'bool' | 'time' | 'intOrString';
interface Field {
  name: string;
  type: Scalar | Message | MapOf;
  repeated?: boolean;
}
interface MapOf {
  map: [Scalar, Scalar];
}
type Message = Record<number, Field>;

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
/** A zero metav1.Time, which Go encodes as an empty message. */
const EPOCH = '1970-01-01T00:00:00Z';

function f(name: string, type: Field['type'] = 'string', repeated = false): Field {
  return { name, type, ...(repeated ? { repeated } : {}) };
}

const OWNER_REFERENCE: Message = { 1: f('kind'), 3: f('name'), 4: f('uid'), 5: f('apiVersion'), 6: f('controller', 'bool'), 7: f('blockOwnerDeletion', 'bool') };
const OBJECT_META: Message = {
  1: f('name'), 2: f('generateName'), 3: f('namespace'), 5: f('uid'), 6: f('resourceVersion'), 7: f('generation', 'int'),
  8: f('creationTimestamp', 'time'), 9: f('deletionTimestamp', 'time'), 10: f('deletionGracePeriodSeconds', 'int'),
  11: f('labels', { map: ['string', 'string'] }), 12: f('annotations', { map: ['string', 'string'] }),
  13: f('ownerReferences', OWNER_REFERENCE, true), 14: f('finalizers', 'string', true),
};
const OBJECT_REFERENCE: Message = { 1: f('kind'), 2: f('namespace'), 3: f('name'), 4: f('uid'), 5: f('apiVersion'), 6: f('resourceVersion'), 7: f('fieldPath') };
const POLICY_RULE: Message = { 1: f('verbs', 'string', true), 2: f('apiGroups', 'string', true), 3: f('resources', 'string', true), 4: f('resourceNames', 'string', true), 5: f('nonResourceURLs', 'string', true) };
const LABEL_SELECTOR: Message = {
  1: f('matchLabels', { map: ['string', 'string'] }),
  2: f('matchExpressions', { 1: f('key'), 2: f('operator'), 3: f('values', 'string', true) }, true),
};
const SUBJECT: Message = { 1: f('kind'), 2: f('apiGroup'), 3: f('name'), 4: f('namespace') };
const ROLE_REF: Message = { 1: f('apiGroup'), 2: f('kind'), 3: f('name') };

const SERVICE_PORT: Message = { 1: f('name'), 2: f('protocol'), 3: f('port', 'int'), 4: f('targetPort', 'intOrString'), 5: f('nodePort', 'int'), 6: f('appProtocol') };
const SERVICE_SPEC: Message = {
  1: f('ports', SERVICE_PORT, true), 2: f('selector', { map: ['string', 'string'] }), 3: f('clusterIP'), 4: f('type'), 5: f('externalIPs', 'string', true),
  7: f('sessionAffinity'), 8: f('loadBalancerIP'), 9: f('loadBalancerSourceRanges', 'string', true), 10: f('externalName'), 11: f('externalTrafficPolicy'),
  12: f('healthCheckNodePort', 'int'), 13: f('publishNotReadyAddresses', 'bool'), 17: f('ipFamilyPolicy'), 18: f('clusterIPs', 'string', true),
  19: f('ipFamilies', 'string', true), 20: f('allocateLoadBalancerNodePorts', 'bool'), 21: f('loadBalancerClass'), 22: f('internalTrafficPolicy'),
};
const CONTAINER: Message = {
  1: f('name'), 2: f('image'), 3: f('command', 'string', true), 4: f('args', 'string', true), 5: f('workingDir'),
  6: f('ports', { 1: f('name'), 2: f('hostPort', 'int'), 3: f('containerPort', 'int'), 4: f('protocol'), 5: f('hostIP') }, true),
  7: f('env', { 1: f('name'), 2: f('value') }, true), 14: f('imagePullPolicy'),
};
const POD_TEMPLATE: Message = {
  1: f('metadata', OBJECT_META),
  2: f('spec', { 2: f('containers', CONTAINER, true), 3: f('restartPolicy'), 7: f('nodeSelector', { map: ['string', 'string'] }), 8: f('serviceAccountName'), 20: f('initContainers', CONTAINER, true) }),
};
const DEPLOYMENT_SPEC: Message = {
  1: f('replicas', 'int'), 2: f('selector', LABEL_SELECTOR), 3: f('template', POD_TEMPLATE),
  4: f('strategy', { 1: f('type'), 2: f('rollingUpdate', { 1: f('maxUnavailable', 'intOrString'), 2: f('maxSurge', 'intOrString') }) }),
  5: f('minReadySeconds', 'int'), 6: f('revisionHistoryLimit', 'int'), 7: f('paused', 'bool'), 9: f('progressDeadlineSeconds', 'int'),
};

const DELETE_OPTIONS: Message = { 1: f('gracePeriodSeconds', 'int'), 2: f('preconditions', { 1: f('uid'), 2: f('resourceVersion') }), 3: f('orphanDependents', 'bool'), 4: f('propagationPolicy'), 5: f('dryRun', 'string', true) };

const MESSAGES: Record<string, Message> = {
  'v1/DeleteOptions': DELETE_OPTIONS,
  'meta.k8s.io/v1/DeleteOptions': DELETE_OPTIONS,
  'v1/Service': { 1: f('metadata', OBJECT_META), 2: f('spec', SERVICE_SPEC) },
  'apps/v1/Deployment': { 1: f('metadata', OBJECT_META), 2: f('spec', DEPLOYMENT_SPEC) },
  'v1/Namespace': { 1: f('metadata', OBJECT_META), 2: f('spec', { 1: f('finalizers', 'string', true) }) },
  'v1/ConfigMap': { 1: f('metadata', OBJECT_META), 2: f('data', { map: ['string', 'string'] }), 3: f('binaryData', { map: ['string', 'bytes'] }), 4: f('immutable', 'bool') },
  'v1/Secret': { 1: f('metadata', OBJECT_META), 2: f('data', { map: ['string', 'bytes'] }), 3: f('type'), 4: f('stringData', { map: ['string', 'string'] }), 5: f('immutable', 'bool') },
  'v1/ServiceAccount': { 1: f('metadata', OBJECT_META), 2: f('secrets', OBJECT_REFERENCE, true), 3: f('imagePullSecrets', { 1: f('name') }, true), 4: f('automountServiceAccountToken', 'bool') },
  'rbac.authorization.k8s.io/v1/Role': { 1: f('metadata', OBJECT_META), 2: f('rules', POLICY_RULE, true) },
  'rbac.authorization.k8s.io/v1/ClusterRole': { 1: f('metadata', OBJECT_META), 2: f('rules', POLICY_RULE, true), 3: f('aggregationRule', { 1: f('clusterRoleSelectors', LABEL_SELECTOR, true) }) },
  'rbac.authorization.k8s.io/v1/RoleBinding': { 1: f('metadata', OBJECT_META), 2: f('subjects', SUBJECT, true), 3: f('roleRef', ROLE_REF) },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': { 1: f('metadata', OBJECT_META), 2: f('subjects', SUBJECT, true), 3: f('roleRef', ROLE_REF) },
  'authorization.k8s.io/v1/SelfSubjectAccessReview': {
    1: f('metadata', OBJECT_META),
    2: f('spec', {
      1: f('resourceAttributes', { 1: f('namespace'), 2: f('verb'), 3: f('group'), 4: f('version'), 5: f('resource'), 6: f('subresource'), 7: f('name') }),
      2: f('nonResourceAttributes', { 1: f('path'), 2: f('verb') }),
    }),
  },
  'authorization.k8s.io/v1/SelfSubjectRulesReview': { 1: f('metadata', OBJECT_META), 2: f('spec', { 1: f('namespace') }) },
  'authentication.k8s.io/v1/SelfSubjectReview': { 1: f('metadata', OBJECT_META) },
  'authentication.k8s.io/v1/TokenRequest': {
    1: f('metadata', OBJECT_META),
    2: f('spec', { 1: f('audiences', 'string', true), 3: f('boundObjectRef', { 1: f('kind'), 2: f('apiVersion'), 3: f('name'), 4: f('uid') }), 4: f('expirationSeconds', 'int') }),
  },
};

function malformed(detail: string): ApiError {
  return new ApiError(400, 'BadRequest', `the protobuf request body is malformed: ${detail}`);
}

class Reader {
  private offset = 0;
  constructor(private readonly bytes: Buffer) {}

  get done(): boolean {
    return this.offset >= this.bytes.length;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = this.bytes[this.offset++];
      if (byte === undefined) throw malformed('truncated varint');
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw malformed('varint too long');
    }
  }

  bytesField(): Buffer {
    const length = Number(this.varint());
    if (this.offset + length > this.bytes.length) throw malformed('truncated length-delimited field');
    const value = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.offset += 8;
    else if (wireType === 2) this.bytesField();
    else if (wireType === 5) this.offset += 4;
    else throw malformed(`unsupported wire type ${wireType}`);
  }
}

function scalar(type: Scalar, reader: Reader): unknown {
  switch (type) {
    case 'string':
      return reader.bytesField().toString('utf8');
    case 'bytes':
      return reader.bytesField().toString('base64');
    case 'int':
      return Number(BigInt.asIntN(64, reader.varint()));
    case 'bool':
      return reader.varint() !== 0n;
    case 'intOrString': {
      // intstr.IntOrString: type 0 is the integer, type 1 the string.
      const value = decodeMessage(reader.bytesField(), { 1: f('type', 'int'), 2: f('intVal', 'int'), 3: f('strVal') });
      return value.type === 1 ? String(value.strVal ?? '') : Number(value.intVal ?? 0);
    }
    case 'time': {
      const time = decodeMessage(reader.bytesField(), { 1: f('seconds', 'int'), 2: f('nanos', 'int') });
      return new Date(Number(time.seconds ?? 0) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    }
  }
}

function decodeMessage(bytes: Buffer, message: Message): JsonObject {
  const reader = new Reader(bytes);
  const result: JsonObject = {};
  while (!reader.done) {
    const key = Number(reader.varint());
    const number = key >>> 3;
    const wireType = key & 7;
    const field = message[number];
    if (!field) {
      reader.skip(wireType);
      continue;
    }
    let value: unknown;
    if (typeof field.type === 'string') value = scalar(field.type, reader);
    else if ('map' in field.type) {
      const [keyType, valueType] = (field.type as MapOf).map;
      const entry = decodeMessage(reader.bytesField(), { 1: f('key', keyType), 2: f('value', valueType) });
      const map = (result[field.name] as JsonObject | undefined) ?? {};
      map[String(entry.key ?? '')] = entry.value ?? (valueType === 'string' || valueType === 'bytes' ? '' : null);
      result[field.name] = map;
      continue;
    } else value = decodeMessage(reader.bytesField(), field.type as Message);
    if (field.repeated) result[field.name] = [...((result[field.name] as unknown[] | undefined) ?? []), value];
    // Go writes every non-pointer field; its JSON leaves zero values out (omitempty), and so do we.
    else if (value !== '' && value !== 0 && value !== false && value !== EPOCH) result[field.name] = value;
  }
  return result;
}

/** Decodes a `application/vnd.kubernetes.protobuf` body into the JSON object it stands for. */
export function decodeKubernetesProtobuf(body: Buffer): JsonObject {
  if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC)) throw malformed('missing the "k8s\\0" prefix');
  const unknown = decodeMessage(body.subarray(MAGIC.length), { 1: f('typeMeta', { 1: f('apiVersion'), 2: f('kind') }), 2: f('raw', 'bytes'), 3: f('contentEncoding') });
  const typeMeta = (unknown.typeMeta as JsonObject | undefined) ?? {};
  const apiVersion = String(typeMeta.apiVersion ?? '');
  const kind = String(typeMeta.kind ?? '');
  const message = MESSAGES[`${apiVersion}/${kind}`];
  if (!message) {
    throw new ApiError(415, 'UnsupportedMediaType', `this server decodes protobuf only for ${Object.keys(MESSAGES).join(', ')}; send ${apiVersion}/${kind} as JSON (e.g. kubectl create -f)`);
  }
  return { apiVersion, kind, ...decodeMessage(Buffer.from(String(unknown.raw ?? ''), 'base64'), message) };
}
