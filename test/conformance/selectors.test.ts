// Label and field selectors, and chunked lists (limit/continue).
// Docs: kubernetes.io/docs/concepts/overview/working-with-objects/labels/ (label selectors),
// kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/ ,
// kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks .
import { expect } from 'chai';
import { CoreV1Api } from '@kubernetes/client-node';
import { field, useConformanceTarget, useTestNamespace } from './support.ts';

describe('conformance: selectors and chunked lists', function () {
  const target = useConformanceTarget();
  const namespace = useTestNamespace(target, 'conf-select');
  const core = () => target.api(CoreV1Api);

  const labelled: Record<string, Record<string, string>> = {
    'sel-a': { env: 'prod', tier: 'web' },
    'sel-b': { env: 'dev', tier: 'web' },
    'sel-c': { env: 'prod' },
    'sel-d': {},
  };

  before(async () => {
    for (const [name, labels] of Object.entries(labelled)) {
      await core().createNamespacedConfigMap({
        namespace: namespace.name,
        body: { metadata: { name, labels: { ...labels, 'conformance.anchorlb.io/set': 'selectors' } } },
      });
    }
  });

  async function namesMatching(labelSelector: string): Promise<string[]> {
    const list = await core().listNamespacedConfigMap({
      namespace: namespace.name,
      labelSelector: `conformance.anchorlb.io/set=selectors,${labelSelector}`,
    });
    return list.items.map((item) => item.metadata?.name ?? '').sort();
  }

  // Equality-based (=, ==, !=) and set-based (in, notin, exists, !exists) requirements; commas are AND.
  // "!=" and "notin" also select objects that lack the key.
  const cases: [string, string[]][] = [
    ['env=prod', ['sel-a', 'sel-c']],
    ['env==prod', ['sel-a', 'sel-c']],
    ['env!=prod', ['sel-b', 'sel-d']],
    ['env in (prod,dev)', ['sel-a', 'sel-b', 'sel-c']],
    ['env notin (prod)', ['sel-b', 'sel-d']],
    ['tier', ['sel-a', 'sel-b']],
    ['!tier', ['sel-c', 'sel-d']],
    ['env=prod,tier', ['sel-a']],
    ['env in (prod),!tier', ['sel-c']],
  ];
  for (const [selector, expected] of cases) {
    it(`selects by label selector "${selector}"`, async () => {
      expect(await namesMatching(selector)).to.deep.equal(expected);
    });
  }

  it('rejects a malformed label selector with 400 BadRequest', async () => {
    const response = await target.raw(`/api/v1/namespaces/${namespace.name}/configmaps?labelSelector=${encodeURIComponent('env in (prod')}`);
    expect(response.status).to.equal(400);
    expect(field(response.json, 'reason')).to.equal('BadRequest');
  });

  // Field selectors every resource supports: metadata.name and metadata.namespace (=, ==, !=).
  it('selects by metadata.name and metadata.namespace field selectors', async () => {
    const byName = await core().listNamespacedConfigMap({ namespace: namespace.name, fieldSelector: 'metadata.name=sel-b' });
    expect(byName.items.map((item) => item.metadata?.name)).to.deep.equal(['sel-b']);
    const notName = await core().listNamespacedConfigMap({
      namespace: namespace.name,
      fieldSelector: 'metadata.name!=sel-b',
      labelSelector: 'conformance.anchorlb.io/set=selectors',
    });
    expect(notName.items.map((item) => item.metadata?.name).sort()).to.deep.equal(['sel-a', 'sel-c', 'sel-d']);
    const acrossNamespaces = await core().listConfigMapForAllNamespaces({
      fieldSelector: `metadata.namespace=${namespace.name}`,
      labelSelector: 'conformance.anchorlb.io/set=selectors',
    });
    expect(acrossNamespaces.items.map((item) => item.metadata?.name).sort()).to.deep.equal(Object.keys(labelled).sort());
  });

  it('rejects a field selector on an unsupported field with 400 BadRequest', async () => {
    const response = await target.raw(`/api/v1/namespaces/${namespace.name}/configmaps?fieldSelector=${encodeURIComponent('data.key=x')}`);
    expect(response.status).to.equal(400);
    expect(field(response.json, 'reason')).to.equal('BadRequest');
  });

  // Pods support spec.nodeName (kubelets and speakers list their own pods with it).
  it('selects pods by spec.nodeName', async () => {
    for (const [name, nodeName] of [
      ['pod-on-a', 'conformance-node-a'],
      ['pod-on-b', 'conformance-node-b'],
    ] as const) {
      await core().createNamespacedPod({
        namespace: namespace.name,
        body: { metadata: { name }, spec: { nodeName, containers: [{ name: 'main', image: 'registry.invalid/none:1' }] } },
      });
    }
    const onA = await core().listNamespacedPod({ namespace: namespace.name, fieldSelector: 'spec.nodeName=conformance-node-a' });
    expect(onA.items.map((item) => item.metadata?.name)).to.deep.equal(['pod-on-a']);
  });

  // Events support involvedObject.* selectors (kubectl describe lists an object's events this way).
  it('selects events by involvedObject fields', async () => {
    const subject = await core().readNamespacedConfigMap({ namespace: namespace.name, name: 'sel-a' });
    const other = await core().readNamespacedConfigMap({ namespace: namespace.name, name: 'sel-b' });
    for (const [name, about] of [
      ['event-a', subject],
      ['event-b', other],
    ] as const) {
      await core().createNamespacedEvent({
        namespace: namespace.name,
        body: {
          metadata: { name },
          involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', name: about.metadata?.name, namespace: namespace.name, uid: about.metadata?.uid },
          reason: 'ConformanceCheck',
          message: 'selected by involvedObject',
          type: 'Normal',
          source: { component: 'anchorlb-conformance' },
          firstTimestamp: new Date(),
          lastTimestamp: new Date(),
          count: 1,
        },
      });
    }
    const byName = await core().listNamespacedEvent({
      namespace: namespace.name,
      fieldSelector: 'involvedObject.kind=ConfigMap,involvedObject.name=sel-a',
    });
    expect(byName.items.map((item) => item.metadata?.name)).to.deep.equal(['event-a']);
    const byUid = await core().listNamespacedEvent({ namespace: namespace.name, fieldSelector: `involvedObject.uid=${other.metadata?.uid}` });
    expect(byUid.items.map((item) => item.metadata?.name)).to.deep.equal(['event-b']);
    const byNamespace = await core().listNamespacedEvent({
      namespace: namespace.name,
      fieldSelector: `involvedObject.namespace=${namespace.name},reason=ConformanceCheck`,
    });
    expect(byNamespace.items.map((item) => item.metadata?.name).sort()).to.deep.equal(['event-a', 'event-b']);
  });

  // Chunking: limit caps a page; metadata.continue fetches the next; the last page has no token.
  it('pages a list with limit and continue, each object exactly once', async () => {
    for (let index = 0; index < 5; index++) {
      await core().createNamespacedConfigMap({
        namespace: namespace.name,
        body: { metadata: { name: `page-${index}`, labels: { 'conformance.anchorlb.io/set': 'pages' } } },
      });
    }
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await core().listNamespacedConfigMap({
        namespace: namespace.name,
        labelSelector: 'conformance.anchorlb.io/set=pages',
        limit: 2,
        _continue: token,
      });
      pages++;
      expect(page.items.length).to.be.at.most(2);
      seen.push(...page.items.map((item) => item.metadata?.name ?? ''));
      token = page.metadata?._continue === '' ? undefined : page.metadata?._continue;
      if (token !== undefined) expect(page.metadata?.remainingItemCount ?? 1).to.be.greaterThan(0);
    } while (token !== undefined && pages < 10);
    expect(pages).to.equal(3);
    expect(seen.sort()).to.deep.equal(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
  });
});
