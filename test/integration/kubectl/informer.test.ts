// @kubernetes/client-node informers against the local API server: they must survive a dropped
// watch (the server ends the stream cleanly, as kube-apiserver does on timeout) and a 410 Gone
// (the server answers a too-old resourceVersion with an ERROR event carrying 410 and ends the
// stream, as kube-apiserver does), relisting and keeping their cache right.
// client-node stops on any other error; restarting it is src/kube's job, not the server's.
import { expect } from 'chai';
import {
  CoreV1Api,
  makeInformer,
  type Informer,
  type KubeConfig,
  type ObjectCache,
  type V1ConfigMap,
  type V1ConfigMapList,
} from '@kubernetes/client-node';
import { eventually } from '../../conformance/support.ts';
import { withLocalApiServer } from '../../support/apiserver.ts';

const NAMESPACE = 'informer-test';
const PATH = `/api/v1/namespaces/${NAMESPACE}/configmaps`;

/** An informer plus what it reported: errors, deletions and how often it listed. */
class RecordingInformer {
  readonly errors: unknown[] = [];
  readonly deleted: string[] = [];
  lists = 0;
  /** (Re)connections: client-node reports one per watch it starts. */
  connects = 0;
  readonly informer: Informer<V1ConfigMap> & ObjectCache<V1ConfigMap>;

  /** `firstList` may stand in for the first list call's result. */
  constructor(kubeConfig: KubeConfig, firstList?: (real: V1ConfigMapList) => V1ConfigMapList) {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    this.informer = makeInformer<V1ConfigMap>(kubeConfig, PATH, async () => {
      const real = await core.listNamespacedConfigMap({ namespace: NAMESPACE });
      this.lists++;
      return this.lists === 1 && firstList !== undefined ? firstList(real) : real;
    });
    this.informer.on('error', (error: unknown) => this.errors.push(error));
    this.informer.on('delete', (object) => this.deleted.push(object.metadata?.name ?? ''));
    this.informer.on('connect', () => this.connects++);
  }
}

describe('client-node informers against the local API server', function () {
  this.timeout(60_000);
  // A short watch history, so a few dozen writes push version 1 out of it.
  const cluster = withLocalApiServer({ faultInjection: true, watchHistoryLimit: 50 });
  const core = () => cluster.kubeConfig.makeApiClient(CoreV1Api);
  const running: RecordingInformer[] = [];

  before(async () => {
    await core().createNamespace({ body: { metadata: { name: NAMESPACE } } });
  });

  afterEach(async () => {
    for (const recorded of running.splice(0)) await recorded.informer.stop();
  });

  async function startInformer(firstList?: (real: V1ConfigMapList) => V1ConfigMapList): Promise<RecordingInformer> {
    const recorded = new RecordingInformer(cluster.kubeConfig, firstList);
    running.push(recorded);
    await recorded.informer.start();
    return recorded;
  }

  /** name=value lines, sorted, so two states compare as strings. */
  function summary(items: readonly V1ConfigMap[]): string {
    return items
      .map((item) => `${item.metadata?.name}=${item.data?.value}`)
      .sort()
      .join(' ');
  }

  const cached = (recorded: RecordingInformer) => summary(recorded.informer.list(NAMESPACE));

  async function serverState(): Promise<string> {
    return summary((await core().listNamespacedConfigMap({ namespace: NAMESPACE })).items);
  }

  async function cacheMatchesServer(recorded: RecordingInformer): Promise<void> {
    let expected = '';
    try {
      await eventually('the informer cache to match the server', async () => {
        expected = await serverState();
        return cached(recorded) === expected ? true : undefined;
      });
    } catch (error) {
      const errors = recorded.errors.map(String);
      throw new Error(`${String(error)}\nserver: ${expected}\ncache: ${cached(recorded)}\ninformer errors: ${JSON.stringify(errors)}`, { cause: error });
    }
  }

  it('keeps its cache right across dropped watches', async () => {
    await core().createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name: 'first' }, data: { value: '1' } } });
    const recorded = await startInformer();
    await cacheMatchesServer(recorded);
    for (let round = 0; round < 3; round++) {
      const connectsBefore = recorded.connects;
      cluster.server.faults.dropWatches();
      await core().createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name: `after-drop-${round}` }, data: { value: `${round}` } } });
      await core().patchNamespacedConfigMap({ namespace: NAMESPACE, name: 'first', body: [{ op: 'replace', path: '/data/value', value: `changed-${round}` }] });
      await cacheMatchesServer(recorded);
      expect(recorded.connects, 'the informer should have re-watched').to.be.greaterThan(connectsBefore);
    }
    await core().deleteNamespacedConfigMap({ namespace: NAMESPACE, name: 'after-drop-0' });
    await cacheMatchesServer(recorded);
    expect(recorded.deleted).to.deep.equal(['after-drop-0']);
    expect(recorded.errors).to.deep.equal([]);
  });

  // A server restart ends every watch; the informer re-watches and sees what happens next.
  it('keeps its cache right across a server restart', async () => {
    const recorded = await startInformer();
    await cacheMatchesServer(recorded);
    const connectsBefore = recorded.connects;
    await cluster.server.restart();
    await core().createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name: 'after-restart' }, data: { value: 'r' } } });
    await cacheMatchesServer(recorded);
    expect(recorded.connects, 'the informer should have re-watched').to.be.greaterThan(connectsBefore);
    expect(recorded.errors).to.deep.equal([]);
  });

  // An informer whose resourceVersion fell out of the server's history (here: its first list
  // claims version 1 and a stale object) must get 410 Gone, relist, and drop what is gone.
  it('relists after 410 Gone and drops objects that no longer exist', async () => {
    await core().createNamespace({ body: { metadata: { name: 'informer-churn' } } });
    await core().createNamespacedConfigMap({ namespace: 'informer-churn', body: { metadata: { name: 'churn' }, data: { n: '0' } } });
    for (let write = 1; write <= 100; write++) {
      await core().patchNamespacedConfigMap({ namespace: 'informer-churn', name: 'churn', body: [{ op: 'replace', path: '/data/n', value: `${write}` }] });
    }
    const recorded = await startInformer((real) => ({
      ...real,
      metadata: { ...real.metadata, resourceVersion: '1' },
      items: [...real.items, { metadata: { name: 'ghost', namespace: NAMESPACE, resourceVersion: '1' }, data: { value: 'stale' } }],
    }));
    await eventually('a relist after 410 Gone', async () => (recorded.lists >= 2 ? true : undefined)).catch((error: unknown) => {
      throw new Error(`${String(error)}; informer errors: ${JSON.stringify(recorded.errors.map(String))}`, { cause: error });
    });
    await cacheMatchesServer(recorded);
    expect(recorded.informer.get('ghost', NAMESPACE)).to.equal(undefined);
    expect(recorded.deleted).to.include('ghost');
    expect(recorded.errors).to.deep.equal([]);
    // And it keeps watching after the relist.
    await core().createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name: 'after-relist' }, data: { value: 'x' } } });
    await cacheMatchesServer(recorded);
  });
});
