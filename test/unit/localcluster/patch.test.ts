import { expect } from 'chai';
import { ApiError } from '../../../src/localcluster/errors.ts';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from '../../../src/localcluster/patch.ts';

describe('localcluster patches', () => {
  describe('JSON patch (RFC 6902)', () => {
    const doc = { a: { b: 1 }, list: ['x', 'y'] };

    it('adds, removes, replaces, moves, copies and tests', () => {
      const result = applyJsonPatch(doc, [
        { op: 'add', path: '/list/1', value: 'between' },
        { op: 'add', path: '/list/-', value: 'end' },
        { op: 'replace', path: '/a/b', value: 2 },
        { op: 'copy', from: '/a', path: '/copied' },
        { op: 'move', from: '/list/0', path: '/first' },
        { op: 'remove', path: '/copied/b' },
        { op: 'test', path: '/first', value: 'x' },
        { op: 'add', path: '/slash~1key', value: true },
      ]);
      expect(result).to.deep.equal({ a: { b: 2 }, list: ['between', 'y', 'end'], copied: {}, first: 'x', 'slash/key': true });
      expect(doc).to.deep.equal({ a: { b: 1 }, list: ['x', 'y'] });
    });

    it('refuses a failed test, a missing path and an unknown op with 400 naming the problem', () => {
      const cases: [unknown, RegExp][] = [
        [[{ op: 'test', path: '/a/b', value: 9 }], /test operation failed at "\/a\/b"/],
        [[{ op: 'remove', path: '/nope' }], /"\/nope": it does not exist/],
        [[{ op: 'replace', path: '/x/y', value: 1 }], /"\/x\/y" does not exist/],
        [[{ op: 'frobnicate', path: '/a' }], /unknown operation "frobnicate"/],
        [{ op: 'add' }, /must be a JSON array/],
        [[{ op: 'add', path: '/list/7', value: 1 }], /index 7 out of range/],
      ];
      for (const [patch, message] of cases) {
        expect(() => applyJsonPatch(doc, patch)).to.throw(ApiError, message).with.property('code', 400);
      }
    });
  });

  describe('JSON merge patch (RFC 7386)', () => {
    it('merges objects, deletes with null, replaces lists and scalars', () => {
      expect(applyMergePatch({ a: 'b', c: { d: 'e', f: 'g' }, l: [1, 2] }, { a: 'z', c: { f: null }, l: [3] })).to.deep.equal({ a: 'z', c: { d: 'e' }, l: [3] });
      expect(applyMergePatch({ a: 'b' }, ['c'])).to.deep.equal(['c']);
      expect(applyMergePatch({ e: null }, { a: 1 })).to.deep.equal({ e: null, a: 1 });
    });
  });

  describe('strategic merge patch', () => {
    const deployment = {
      spec: {
        template: {
          spec: {
            containers: [
              { name: 'web', image: 'nginx:1', env: [{ name: 'A', value: '1' }], ports: [{ containerPort: 80 }] },
              { name: 'sidecar', image: 'envoy' },
            ],
            volumes: [{ name: 'data', emptyDir: {} }],
          },
        },
      },
      metadata: { finalizers: ['a'] },
    };

    it('merges containers, env, ports and volumes by their keys', () => {
      const result = applyStrategicMergePatch(deployment, {
        spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:2', env: [{ name: 'B', value: '2' }], ports: [{ containerPort: 443 }] }], volumes: [{ name: 'cache', emptyDir: {} }] } } },
      }) as typeof deployment;
      const containers = result.spec.template.spec.containers;
      expect(containers.map((c) => `${c.name}:${c.image}`)).to.deep.equal(['web:nginx:2', 'sidecar:envoy']);
      expect(containers[0]?.env?.map((e) => e.name)).to.deep.equal(['A', 'B']);
      expect(containers[0]?.ports?.map((p) => p.containerPort)).to.deep.equal([80, 443]);
      expect(result.spec.template.spec.volumes.map((v) => v.name)).to.deep.equal(['data', 'cache']);
    });

    it('merges Service ports on port and conditions on type', () => {
      const service = { spec: { ports: [{ port: 80, name: 'http' }] }, status: { conditions: [{ type: 'A', status: 'True' }, { type: 'B', status: 'True' }] } };
      const result = applyStrategicMergePatch(service, { spec: { ports: [{ port: 80, targetPort: 8080 }, { port: 443, name: 'https' }] }, status: { conditions: [{ type: 'A', status: 'False' }] } });
      expect(result).to.deep.equal({
        spec: { ports: [{ port: 80, name: 'http', targetPort: 8080 }, { port: 443, name: 'https' }] },
        status: { conditions: [{ type: 'A', status: 'False' }, { type: 'B', status: 'True' }] },
      });
    });

    it('honours $patch delete and replace, $retainKeys, $deleteFromPrimitiveList and $setElementOrder', () => {
      const deleted = applyStrategicMergePatch(deployment, { spec: { template: { spec: { containers: [{ name: 'sidecar', $patch: 'delete' }] } } } }) as typeof deployment;
      expect(deleted.spec.template.spec.containers.map((c) => c.name)).to.deep.equal(['web']);
      const replaced = applyStrategicMergePatch(deployment, { spec: { template: { spec: { volumes: [{ name: 'only', emptyDir: {} }, { $patch: 'replace' }] } } } }) as typeof deployment;
      expect(replaced.spec.template.spec.volumes).to.deep.equal([{ name: 'only', emptyDir: {} }]);
      expect(applyStrategicMergePatch({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } }, { strategy: { $retainKeys: ['type'], type: 'Recreate' } })).to.deep.equal({ strategy: { type: 'Recreate' } });
      expect(applyStrategicMergePatch({ metadata: { finalizers: ['a', 'b'] } }, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } })).to.deep.equal({ metadata: { finalizers: ['b'] } });
      const ordered = applyStrategicMergePatch(deployment, { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'sidecar' }, { name: 'web' }] } } } }) as typeof deployment;
      expect(ordered.spec.template.spec.containers.map((c) => c.name)).to.deep.equal(['sidecar', 'web']);
    });

    it('adds finalizers as a set and deletes fields set to null', () => {
      expect(applyStrategicMergePatch({ metadata: { finalizers: ['a'], labels: { x: '1' } } }, { metadata: { finalizers: ['a', 'b'], labels: { x: null } } })).to.deep.equal({ metadata: { finalizers: ['a', 'b'], labels: {} } });
    });
  });
});
