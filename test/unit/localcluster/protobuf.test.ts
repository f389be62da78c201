import { expect } from 'chai';
import fc from 'fast-check';
import { ApiError } from '../../../src/localcluster/errors.ts';
import { decodeKubernetesProtobuf } from '../../../src/localcluster/protobuf.ts';

// A minimal protobuf writer, enough to build the bodies kubectl sends.
function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}
function bytesField(number: number, value: Buffer | string): Buffer {
  const body = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([varint((number << 3) | 2), varint(body.length), body]);
}
function varintField(number: number, value: number): Buffer {
  return Buffer.concat([varint(number << 3), varint(value)]);
}
function mapEntry(number: number, key: string, value: string | Buffer): Buffer {
  return bytesField(number, Buffer.concat([bytesField(1, key), bytesField(2, value)]));
}
function envelope(apiVersion: string, kind: string, raw: Buffer): Buffer {
  const typeMeta = Buffer.concat([bytesField(1, apiVersion), bytesField(2, kind)]);
  return Buffer.concat([Buffer.from('k8s\0'), bytesField(1, typeMeta), bytesField(2, raw)]);
}

describe('localcluster protobuf request bodies', () => {
  it('decodes a ConfigMap with metadata, labels, finalizers and data, leaving Go zero values out', () => {
    const metadata = Buffer.concat([bytesField(1, 'settings'), bytesField(2, ''), bytesField(3, 'demo'), mapEntry(11, 'app', 'web'), bytesField(14, 'a/b'), bytesField(14, 'c/d'), bytesField(8, Buffer.alloc(0))]);
    const raw = Buffer.concat([bytesField(1, metadata), mapEntry(2, 'empty', ''), mapEntry(2, 'key', 'value'), mapEntry(3, 'bin', Buffer.from([1, 2, 3])), varintField(4, 0), varintField(99, 7)]);
    expect(decodeKubernetesProtobuf(envelope('v1', 'ConfigMap', raw))).to.deep.equal({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: 'demo', labels: { app: 'web' }, finalizers: ['a/b', 'c/d'] },
      data: { empty: '', key: 'value' },
      binaryData: { bin: Buffer.from([1, 2, 3]).toString('base64') },
    });
  });

  it('decodes a SelfSubjectAccessReview as kubectl auth can-i sends it', () => {
    const attributes = Buffer.concat([bytesField(1, 'demo'), bytesField(2, 'list'), bytesField(3, ''), bytesField(5, 'configmaps')]);
    const raw = Buffer.concat([bytesField(1, Buffer.alloc(0)), bytesField(2, bytesField(1, attributes))]);
    expect(decodeKubernetesProtobuf(envelope('authorization.k8s.io/v1', 'SelfSubjectAccessReview', raw))).to.deep.equal({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      metadata: {},
      spec: { resourceAttributes: { namespace: 'demo', verb: 'list', resource: 'configmaps' } },
    });
  });

  it('refuses kinds it has no description of with 415 naming the kind, and bodies without the prefix with 400', () => {
    expect(() => decodeKubernetesProtobuf(envelope('apps/v1', 'StatefulSet', Buffer.alloc(0)))).to.throw(ApiError, /send apps\/v1\/StatefulSet as JSON/).with.property('code', 415);
    expect(() => decodeKubernetesProtobuf(Buffer.from('{"kind":"Pod"}'))).to.throw(ApiError, /missing the "k8s\\0" prefix/).with.property('code', 400);
  });

  it('never fails on arbitrary bytes with anything but a 400 or 415 (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, known) => {
        const [apiVersion, kind] = [['v1', 'Secret'], ['v1', 'Service'], ['apps/v1', 'Deployment']][bytes.length % 3] as [string, string];
        const body = known ? envelope(apiVersion, kind, Buffer.from(bytes)) : Buffer.concat([Buffer.from('k8s\0'), Buffer.from(bytes)]);
        try {
          decodeKubernetesProtobuf(body);
        } catch (error) {
          expect(error).to.be.instanceOf(ApiError);
          expect([400, 415]).to.include((error as ApiError).code);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
