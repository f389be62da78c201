// Watch: from a resourceVersion, initial state, selectors, bookmarks, timeouts and 410 Gone.
// Docs: kubernetes.io/docs/reference/using-api/api-concepts/ (efficient detection of changes,
// semantics for watch, watch bookmarks, streaming lists, resource versions, 410 Gone responses).
import { expect } from 'chai';
import { CoreV1Api } from '@kubernetes/client-node';
import { field, useConformanceTarget, useTestNamespace, type WatchEvent } from './support.ts';

describe('conformance: watch', function () {
  const target = useConformanceTarget();
  const namespace = useTestNamespace(target, 'conf-watch');
  const core = () => target.api(CoreV1Api);
  const path = () => `/api/v1/namespaces/${namespace.name}/configmaps`;
  const summary = (events: WatchEvent[]) => events.map((event) => `${event.type}:${String(field(event.object, 'metadata', 'name'))}`);

  // "Start at exact": a watch from resourceVersion R delivers every change after R, in order, and nothing before.
  it('delivers the changes after a resourceVersion, in order, with the final state on DELETED', async () => {
    const created = await core().createNamespacedConfigMap({ namespace: namespace.name, body: { metadata: { name: 'from-rv' }, data: { n: '0' } } });
    const since = created.metadata?.resourceVersion ?? '';
    await core().patchNamespacedConfigMap(
      { namespace: namespace.name, name: 'from-rv', body: [{ op: 'replace', path: '/data/n', value: '1' }] },
    );
    await core().deleteNamespacedConfigMap({ namespace: namespace.name, name: 'from-rv' });
    const events = await target.watch(`${path()}?watch=true&resourceVersion=${since}&fieldSelector=metadata.name%3Dfrom-rv`, (seen) => seen.length >= 2);
    expect(summary(events)).to.deep.equal(['MODIFIED:from-rv', 'DELETED:from-rv']);
    expect(field(events[0]?.object, 'data', 'n')).to.equal('1');
    expect(field(events[1]?.object, 'data', 'n')).to.equal('1');
    expect(Number(field(events[1]?.object, 'metadata', 'resourceVersion'))).to.be.greaterThan(Number(since));
  });

  // A watch of the cluster-wide collection sees changes in every namespace.
  it('watches a resource across all namespaces', async () => {
    const created = await core().createNamespacedConfigMap({
      namespace: namespace.name,
      body: { metadata: { name: 'cluster-wide', labels: { scope: 'all-namespaces' } } },
    });
    await core().deleteNamespacedConfigMap({ namespace: namespace.name, name: 'cluster-wide' });
    const events = await target.watch(
      `/api/v1/configmaps?watch=true&labelSelector=scope%3Dall-namespaces&resourceVersion=${created.metadata?.resourceVersion}`,
      (seen) => seen.length >= 1,
    );
    expect(summary(events)).to.deep.equal(['DELETED:cluster-wide']);
    expect(field(events[0]?.object, 'metadata', 'namespace')).to.equal(namespace.name);
  });

  // resourceVersion unset: the watch starts with synthetic ADDED events for the current state.
  it('starts a watch without resourceVersion with ADDED events for existing objects', async () => {
    for (const name of ['existing-1', 'existing-2']) {
      await core().createNamespacedConfigMap({ namespace: namespace.name, body: { metadata: { name, labels: { group: 'existing' } } } });
    }
    const events = await target.watch(`${path()}?watch=true&labelSelector=group%3Dexisting`, (seen) => seen.length >= 2);
    expect(summary(events).sort()).to.deep.equal(['ADDED:existing-1', 'ADDED:existing-2']);
  });

  // A watch with a label selector reports an object that stops matching as DELETED.
  it('reports an object leaving the label selector as DELETED', async () => {
    const created = await core().createNamespacedConfigMap({
      namespace: namespace.name,
      body: { metadata: { name: 'leaver', labels: { watched: 'yes' } } },
    });
    const patched = await target.raw(`${path()}/leaver`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: { metadata: { labels: { watched: 'no' } } },
    });
    const events = await target.watch(
      `${path()}?watch=true&labelSelector=watched%3Dyes&resourceVersion=${created.metadata?.resourceVersion}`,
      (seen) => seen.length >= 1,
    );
    expect(summary(events)).to.deep.equal(['DELETED:leaver']);
    // The object as it last matched, with the resourceVersion of the change that made it leave.
    expect(field(events[0]?.object, 'metadata', 'labels', 'watched')).to.equal('yes');
    expect(field(events[0]?.object, 'metadata', 'resourceVersion')).to.equal(field(patched.json, 'metadata', 'resourceVersion'));
  });

  // Streaming lists: sendInitialEvents=true with resourceVersionMatch=NotOlderThan sends the state as
  // ADDED events, then a BOOKMARK annotated k8s.io/initial-events-end=true carrying the resourceVersion.
  // (kube-apiserver: the WatchList feature, on by default since 1.32.)
  it('ends the initial events of a streaming list with an annotated BOOKMARK', async () => {
    await core().createNamespacedConfigMap({ namespace: namespace.name, body: { metadata: { name: 'streamed', labels: { group: 'streamed' } } } });
    const events = await target.watch(
      `${path()}?watch=true&labelSelector=group%3Dstreamed&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`,
      (seen) => seen.some((event) => event.type === 'BOOKMARK'),
    );
    expect(summary(events.filter((event) => event.type !== 'BOOKMARK'))).to.deep.equal(['ADDED:streamed']);
    const bookmark = events.find((event) => event.type === 'BOOKMARK');
    expect(field(bookmark?.object, 'metadata', 'annotations', 'k8s.io/initial-events-end')).to.equal('true');
    expect(field(bookmark?.object, 'metadata', 'resourceVersion')).to.be.a('string').and.not.equal('');
    expect(field(bookmark?.object, 'kind')).to.equal('ConfigMap');
  });

  // timeoutSeconds bounds a watch: the server ends the stream itself (cleanly, so clients re-watch).
  it('ends a watch after timeoutSeconds', async () => {
    const list = await core().listNamespacedConfigMap({ namespace: namespace.name });
    const events = await target.watch(`${path()}?watch=true&timeoutSeconds=1&resourceVersion=${list.metadata?.resourceVersion}`, () => false, 20_000);
    expect(events.filter((event) => event.type !== 'BOOKMARK')).to.deep.equal([]);
  });

  // 410 Gone: a watch from a resourceVersion older than the server keeps is answered with 200 and then one
  // ERROR event whose object is a Status with code 410 (reason Expired), and ends the stream.
  it('answers a watch from a too-old resourceVersion with an ERROR event carrying 410', async function () {
    this.timeout(240_000);
    const churn = await core().createNamespacedConfigMap({ namespace: namespace.name, body: { metadata: { name: 'churn' }, data: { n: '0' } } });
    // Version 1 is the oldest any etcd-backed server ever had; a server with a bounded history
    // forgets it once enough writes have happened, kube-apiserver's watch cache once its oldest
    // event is newer (a time window as well as a count), so write and look again until it does (bounded).
    let events: WatchEvent[] = [];
    const until = Date.now() + 200_000;
    for (let round = 0; Date.now() < until; round++) {
      events = await target.watch(`${path()}?watch=true&resourceVersion=1`, (seen) => seen.length >= 1);
      if (events[0]?.type === 'ERROR') break;
      for (let write = 0; write < 100; write++) {
        await core().patchNamespacedConfigMap({ namespace: namespace.name, name: 'churn', body: [{ op: 'replace', path: '/data/n', value: `${round}-${write}` }] });
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    expect(churn.metadata?.name).to.equal('churn');
    expect(events[0]?.type, JSON.stringify(events[0])).to.equal('ERROR');
    const status = events[0]?.object;
    expect(field(status, 'kind')).to.equal('Status');
    expect(field(status, 'code')).to.equal(410);
    expect(field(status, 'reason')).to.be.oneOf(['Expired', 'Gone']);
  });

  // A list at an exact, compacted resourceVersion is 410 Gone too (resourceVersionMatch=Exact).
  it('answers a list at an exact too-old resourceVersion with 410 Gone', async () => {
    const response = await target.raw(`${path()}?resourceVersion=1&resourceVersionMatch=Exact`);
    expect(response.status).to.equal(410);
    expect(field(response.json, 'reason')).to.be.oneOf(['Expired', 'Gone']);
  });
});
