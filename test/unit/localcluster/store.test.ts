import { expect } from 'chai';
import fc from 'fast-check';
import { ObjectStore } from '../../../src/localcluster/store.ts';
import type { KubeObject } from '../../../src/localcluster/types.ts';

function configMap(name: string, value = '1', namespace = 'default'): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, uid: `uid-${name}` }, data: { value } };
}

describe('localcluster ObjectStore', () => {
  it('stamps every write with the next revision as metadata.resourceVersion', () => {
    const store = new ObjectStore();
    const first = store.put('/configmaps', configMap('a'));
    const second = store.put('/configmaps', configMap('a', '2'));
    const removed = store.remove('/configmaps', 'default', 'a');
    expect([first, second, removed].map((o) => Number(o?.metadata.resourceVersion))).to.deep.equal([1, 2, 3]);
    expect(store.revision).to.equal(3);
    expect(store.get('/configmaps', 'default', 'a')).to.equal(undefined);
  });

  it('keeps stored objects apart from the caller\'s copy', () => {
    const store = new ObjectStore();
    const input = configMap('a');
    store.put('/configmaps', input);
    (input.data as Record<string, string>).value = 'changed by caller';
    expect((store.get('/configmaps', 'default', 'a')?.data as Record<string, string>).value).to.equal('1');
  });

  it('lists sorted by namespace and name, optionally within one namespace', () => {
    const store = new ObjectStore();
    for (const [ns, name] of [['b', 'x'], ['a', 'z'], ['a', 'y']] as const) store.put('/configmaps', configMap(name, '1', ns));
    expect(store.list('/configmaps').map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).to.deep.equal(['a/y', 'a/z', 'b/x']);
    expect(store.list('/configmaps', 'b').map((o) => o.metadata.name)).to.deep.equal(['x']);
  });

  it('reports ADDED, MODIFIED (with the previous state) and DELETED changes to subscribers and in history', () => {
    const store = new ObjectStore();
    const seen: string[] = [];
    store.subscribe((change) => seen.push(`${change.type}:${change.revision}:${String((change.previous?.data as Record<string, string> | undefined)?.value ?? '-')}`));
    store.put('/configmaps', configMap('a'));
    store.put('/configmaps', configMap('a', '2'));
    store.remove('/configmaps', 'default', 'a');
    expect(seen).to.deep.equal(['ADDED:1:-', 'MODIFIED:2:1', 'DELETED:3:2']);
    const history = store.changesSince(1);
    expect(history.kind === 'changes' && history.changes.map((c) => c.type)).to.deep.equal(['MODIFIED', 'DELETED']);
  });

  it('answers expired for a revision older than its bounded history', () => {
    const store = new ObjectStore(10);
    for (let i = 0; i < 50; i++) store.put('/configmaps', configMap('a', String(i)));
    expect(store.changesSince(1).kind).to.equal('expired');
    expect(store.oldestWatchableRevision).to.be.greaterThan(1);
    const recent = store.changesSince(45);
    expect(recent.kind === 'changes' && recent.changes.map((c) => c.revision)).to.deep.equal([46, 47, 48, 49, 50]);
  });

  it('forgets history on compact, so resuming from before is expired but from now is not', () => {
    const store = new ObjectStore();
    store.put('/configmaps', configMap('a'));
    store.compact();
    expect(store.changesSince(0).kind).to.equal('expired');
    expect(store.changesSince(1)).to.deep.equal({ kind: 'changes', changes: [] });
  });

  it('rebuilds the state at any revision still in history (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('put', 'remove'), fc.constantFrom('a', 'b', 'c'), fc.nat(9)), { maxLength: 40 }), (operations) => {
        const store = new ObjectStore(1000);
        const states: string[] = [JSON.stringify([])];
        for (const [op, name, value] of operations) {
          if (op === 'put') store.put('/configmaps', configMap(name, String(value)));
          else if (!store.remove('/configmaps', 'default', name)) continue;
          states[store.revision] = JSON.stringify(store.list('/configmaps').map((o) => [o.metadata.name, o.data]));
        }
        for (let revision = 0; revision <= store.revision; revision++) {
          const past = store.listAt('/configmaps', undefined, revision);
          expect(past).to.not.equal('expired');
          expect(JSON.stringify((past as KubeObject[]).map((o) => [o.metadata.name, o.data]))).to.equal(states[revision]);
        }
      }),
    );
  });

  it('restores a snapshot with the same objects, revision and uid index', () => {
    const store = new ObjectStore();
    store.put('/configmaps', configMap('a'));
    store.put('/configmaps', configMap('b'));
    const copy = new ObjectStore();
    copy.restore(store.snapshot());
    expect(copy.revision).to.equal(2);
    expect(copy.list('/configmaps').map((o) => o.metadata.name)).to.deep.equal(['a', 'b']);
    expect(copy.locate('uid-b')).to.deep.equal({ resource: '/configmaps', namespace: 'default', name: 'b' });
    expect(copy.changesSince(1).kind).to.equal('expired');
  });

  it('refuses a history limit that is not a positive integer', () => {
    expect(() => new ObjectStore(0)).to.throw(/historyLimit must be a positive integer, got 0/);
  });
});
