// Object semantics: metadata the server sets, error Status bodies, finalizers and garbage collection.
// Docs: kubernetes.io/docs/reference/using-api/api-concepts/ (resource versions, generated values,
// field validation), kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/,
// kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/ ,
// kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/ ,
// kubernetes.io/docs/concepts/architecture/garbage-collection/ .
import { expect } from 'chai';
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { eventually, field, ignoreNotFound, isObject, useConformanceTarget, useTestNamespace } from './support.ts';

const HOLD_FINALIZER = 'conformance.anchorlb.io/hold';

describe('conformance: object semantics', function () {
  const target = useConformanceTarget();
  const namespace = useTestNamespace(target, 'conf-objects');
  const core = () => target.api(CoreV1Api);
  const configMapsPath = () => `/api/v1/namespaces/${namespace.name}/configmaps`;

  function configMap(name: string, extra: Partial<V1ConfigMap['metadata']> = {}): V1ConfigMap {
    return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...extra }, data: { key: 'value' } };
  }

  async function releaseFinalizers(name: string): Promise<void> {
    await ignoreNotFound(
      target.raw(`${configMapsPath()}/${name}`, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/merge-patch+json' },
        body: { metadata: { finalizers: null } },
      }),
    );
  }

  function expectStatus(body: unknown, code: number, reason: string): void {
    expect(field(body, 'kind'), JSON.stringify(body)).to.equal('Status');
    expect(field(body, 'apiVersion')).to.equal('v1');
    expect(field(body, 'status')).to.equal('Failure');
    expect(field(body, 'code')).to.equal(code);
    expect(field(body, 'reason')).to.equal(reason);
    expect(field(body, 'message')).to.be.a('string').and.not.equal('');
  }

  // ObjectMeta: uid (unique, set by the server), creationTimestamp (RFC 3339, server-set), resourceVersion.
  it('sets uid, creationTimestamp and resourceVersion on create', async () => {
    const first = await core().createNamespacedConfigMap({ namespace: namespace.name, body: configMap('meta-a') });
    const second = await core().createNamespacedConfigMap({ namespace: namespace.name, body: configMap('meta-b') });
    expect(first.metadata?.uid).to.be.a('string').and.not.equal('');
    expect(first.metadata?.uid).to.not.equal(second.metadata?.uid);
    expect(first.metadata?.creationTimestamp).to.be.instanceOf(Date);
    expect(Number.isNaN(first.metadata?.creationTimestamp?.getTime())).to.equal(false);
    expect(first.metadata?.resourceVersion).to.be.a('string').and.not.equal('');
    const raw = await target.raw(`${configMapsPath()}/meta-a`);
    expect(field(raw.json, 'metadata', 'creationTimestamp')).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  // generateName: the server appends a random suffix and returns the chosen name.
  it('generates a unique name from generateName', async () => {
    const created = await core().createNamespacedConfigMap({
      namespace: namespace.name,
      body: { metadata: { generateName: 'generated-' }, data: {} },
    });
    expect(created.metadata?.name).to.match(/^generated-[a-z0-9]{5}$/);
    expect(created.metadata?.generateName).to.equal('generated-');
  });

  // resourceVersion changes on every write. etcd-backed servers hand out increasing integers; the
  // docs tell clients to treat it as opaque, but watches from a version rely on the order.
  it('changes resourceVersion on every update, increasing', async () => {
    const created = await core().createNamespacedConfigMap({ namespace: namespace.name, body: configMap('versions') });
    const versions = [created.metadata?.resourceVersion];
    let current = created;
    for (let round = 0; round < 3; round++) {
      current = await core().replaceNamespacedConfigMap({
        namespace: namespace.name,
        name: 'versions',
        body: { ...current, data: { key: `value-${round}` } },
      });
      versions.push(current.metadata?.resourceVersion);
    }
    const numbers = versions.map((version) => Number(version));
    for (let index = 1; index < numbers.length; index++) {
      expect(numbers[index], JSON.stringify(versions)).to.be.greaterThan(numbers[index - 1] as number);
    }
  });

  // Optimistic concurrency: an update carrying a stale resourceVersion fails with 409 Conflict.
  it('rejects an update with a stale resourceVersion with 409 Conflict', async () => {
    const created = await core().createNamespacedConfigMap({ namespace: namespace.name, body: configMap('stale') });
    await core().replaceNamespacedConfigMap({ namespace: namespace.name, name: 'stale', body: { ...created, data: { key: 'newer' } } });
    const response = await target.raw(`${configMapsPath()}/stale`, { method: 'PUT', body: { ...created, data: { key: 'lost' } } });
    expect(response.status).to.equal(409);
    expectStatus(response.json, 409, 'Conflict');
    expect(field(response.json, 'details', 'name')).to.equal('stale');
    expect(field(response.json, 'details', 'kind')).to.equal('configmaps');
  });

  // An update without metadata.resourceVersion is unconditional (allowed for config maps).
  it('accepts an update without resourceVersion as unconditional', async () => {
    await core().createNamespacedConfigMap({ namespace: namespace.name, body: configMap('unconditional') });
    const response = await target.raw(`${configMapsPath()}/unconditional`, { method: 'PUT', body: { ...configMap('unconditional'), data: { key: 'forced' } } });
    expect(response.status, response.text).to.equal(200);
    expect(field(response.json, 'data', 'key')).to.equal('forced');
  });

  // The request path decides the namespace; a body naming another one is a 400 BadRequest.
  it('rejects a body whose namespace differs from the request path', async () => {
    const response = await target.raw(configMapsPath(), {
      method: 'POST',
      body: configMap('elsewhere', { namespace: `${namespace.name}-other` }),
    });
    expect(response.status).to.equal(400);
    expectStatus(response.json, 400, 'BadRequest');
  });

  // DeleteOptions.preconditions: a delete naming another uid or an old resourceVersion is a 409 Conflict.
  it('refuses a delete whose preconditions do not hold with 409 Conflict', async () => {
    const created = await core().createNamespacedConfigMap({ namespace: namespace.name, body: configMap('guarded') });
    const wrongUid = await target.raw(`${configMapsPath()}/guarded`, {
      method: 'DELETE',
      body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: '00000000-0000-0000-0000-000000000000' } },
    });
    expect(wrongUid.status, wrongUid.text).to.equal(409);
    expectStatus(wrongUid.json, 409, 'Conflict');
    await core().replaceNamespacedConfigMap({ namespace: namespace.name, name: 'guarded', body: { ...created, data: { key: 'newer' } } });
    const staleVersion = await target.raw(`${configMapsPath()}/guarded`, {
      method: 'DELETE',
      body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion: created.metadata?.resourceVersion } },
    });
    expect(staleVersion.status, staleVersion.text).to.equal(409);
    const matching = await target.raw(`${configMapsPath()}/guarded`, {
      method: 'DELETE',
      body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: created.metadata?.uid } },
    });
    expect(matching.status).to.equal(200);
  });

  // Dry run (dryRun=All): the request is validated and answered as if done, but nothing is stored
  // (kubectl apply/diff --dry-run=server).
  it('answers a dry-run create without storing the object', async () => {
    const response = await target.raw(`${configMapsPath()}?dryRun=All`, { method: 'POST', body: configMap('dry-run') });
    expect(response.status, response.text).to.equal(201);
    expect(field(response.json, 'metadata', 'name')).to.equal('dry-run');
    expect((await target.raw(`${configMapsPath()}/dry-run`)).status).to.equal(404);
    const invalid = await target.raw(`${configMapsPath()}?dryRun=All`, { method: 'POST', body: configMap('Not_Valid') });
    expect(invalid.status).to.equal(422);
  });

  // 404 NotFound Status: details name the object and the resource.
  it('answers a missing object with a 404 NotFound Status', async () => {
    const response = await target.raw(`${configMapsPath()}/does-not-exist`);
    expect(response.status).to.equal(404);
    expectStatus(response.json, 404, 'NotFound');
    expect(field(response.json, 'details', 'name')).to.equal('does-not-exist');
    expect(field(response.json, 'details', 'kind')).to.equal('configmaps');
  });

  // 409 AlreadyExists Status on creating a name that exists.
  it('answers a duplicate create with a 409 AlreadyExists Status', async () => {
    await core().createNamespacedConfigMap({ namespace: namespace.name, body: configMap('twice') });
    const response = await target.raw(configMapsPath(), { method: 'POST', body: configMap('twice') });
    expect(response.status).to.equal(409);
    expectStatus(response.json, 409, 'AlreadyExists');
    expect(field(response.json, 'details', 'name')).to.equal('twice');
  });

  // 422 Invalid: details.causes name each invalid field (metadata.name must be a DNS subdomain).
  it('answers an invalid object with a 422 Invalid Status naming the field', async () => {
    const response = await target.raw(configMapsPath(), { method: 'POST', body: configMap('Not_A_Valid_Name') });
    expect(response.status).to.equal(422);
    expectStatus(response.json, 422, 'Invalid');
    expect(field(response.json, 'details', 'kind')).to.equal('ConfigMap');
    const causes = field(response.json, 'details', 'causes');
    expect(causes).to.be.an('array').with.length.greaterThan(0);
    const nameCause = (causes as unknown[]).find((cause) => field(cause, 'field') === 'metadata.name');
    expect(nameCause, JSON.stringify(causes)).to.satisfy(isObject);
    expect(field(nameCause, 'reason')).to.equal('FieldValueInvalid');
  });

  // Field validation: fieldValidation=Strict turns an unknown field into 400 BadRequest
  // (kubectl apply --validate=strict relies on it).
  it('rejects unknown fields with 400 under fieldValidation=Strict and accepts them otherwise', async () => {
    const body = { ...configMap('strict'), unexpectedTopLevel: { a: 1 } };
    const strict = await target.raw(`${configMapsPath()}?fieldValidation=Strict`, { method: 'POST', body });
    expect(strict.status).to.equal(400);
    expectStatus(strict.json, 400, 'BadRequest');
    expect(field(strict.json, 'message')).to.contain('unexpectedTopLevel');
    const ignored = await target.raw(`${configMapsPath()}?fieldValidation=Ignore`, { method: 'POST', body });
    expect(ignored.status).to.equal(201);
    expect(field(ignored.json, 'unexpectedTopLevel')).to.equal(undefined);
  });

  // Finalizers: delete sets deletionTimestamp and keeps the object until the finalizers are removed.
  it('keeps an object with finalizers, marked for deletion, until they are removed', async () => {
    const name = 'finalized';
    await core().createNamespacedConfigMap({ namespace: namespace.name, body: configMap(name, { finalizers: [HOLD_FINALIZER] }) });
    try {
      const deleted = await target.raw(`${configMapsPath()}/${name}`, { method: 'DELETE' });
      expect(deleted.status).to.be.oneOf([200, 202]);
      const pending = await core().readNamespacedConfigMap({ namespace: namespace.name, name });
      expect(pending.metadata?.deletionTimestamp).to.be.instanceOf(Date);
      expect(pending.metadata?.finalizers).to.deep.equal([HOLD_FINALIZER]);
      // No new finalizers once deletion has started.
      const added = await target.raw(`${configMapsPath()}/${name}`, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/merge-patch+json' },
        body: { metadata: { finalizers: [HOLD_FINALIZER, 'conformance.anchorlb.io/late'] } },
      });
      expect(added.status).to.equal(422);
      await releaseFinalizers(name);
      await eventually('the object to be gone', async () => {
        const response = await target.raw(`${configMapsPath()}/${name}`);
        return response.status === 404 ? true : undefined;
      });
    } finally {
      await releaseFinalizers(name);
    }
  });

  async function ownerAndDependent(owner: string, dependent: string, dependentExtra: Partial<V1ConfigMap['metadata']> = {}) {
    const created = await core().createNamespacedConfigMap({ namespace: namespace.name, body: configMap(owner) });
    const ownerReference = { apiVersion: 'v1', kind: 'ConfigMap', name: owner, uid: created.metadata?.uid ?? '' };
    await core().createNamespacedConfigMap({
      namespace: namespace.name,
      body: configMap(dependent, { ownerReferences: [{ ...ownerReference, blockOwnerDeletion: true }], ...dependentExtra }),
    });
  }

  // Garbage collection, background cascade: the owner goes at once, dependents are deleted after.
  it('deletes dependents after their owner in background cascading deletion', async () => {
    await ownerAndDependent('bg-owner', 'bg-dependent');
    await core().deleteNamespacedConfigMap({ namespace: namespace.name, name: 'bg-owner', propagationPolicy: 'Background' });
    await eventually('the dependent to be collected', async () => {
      const response = await target.raw(`${configMapsPath()}/bg-dependent`);
      return response.status === 404 ? true : undefined;
    });
  });

  // Foreground cascade: the owner stays (deletionTimestamp + foregroundDeletion finalizer) until
  // every dependent with blockOwnerDeletion is gone.
  it('keeps the owner in foreground cascading deletion until blocking dependents are gone', async () => {
    await ownerAndDependent('fg-owner', 'fg-dependent', { finalizers: [HOLD_FINALIZER] });
    try {
      await core().deleteNamespacedConfigMap({ namespace: namespace.name, name: 'fg-owner', propagationPolicy: 'Foreground' });
      const owner = await core().readNamespacedConfigMap({ namespace: namespace.name, name: 'fg-owner' });
      expect(owner.metadata?.deletionTimestamp).to.be.instanceOf(Date);
      expect(owner.metadata?.finalizers).to.include('foregroundDeletion');
      await eventually('the dependent to be marked for deletion', async () => {
        const dependent = await core().readNamespacedConfigMap({ namespace: namespace.name, name: 'fg-dependent' });
        return dependent.metadata?.deletionTimestamp === undefined ? undefined : true;
      });
      const stillThere = await target.raw(`${configMapsPath()}/fg-owner`);
      expect(stillThere.status).to.equal(200);
      await releaseFinalizers('fg-dependent');
      await eventually('the owner to be gone once its dependent is', async () => {
        const response = await target.raw(`${configMapsPath()}/fg-owner`);
        return response.status === 404 ? true : undefined;
      });
    } finally {
      await releaseFinalizers('fg-dependent');
    }
  });

  // Orphan: dependents stay and lose their ownerReferences to the deleted owner.
  it('orphans dependents when asked to', async () => {
    await ownerAndDependent('orphan-owner', 'orphan-dependent');
    await core().deleteNamespacedConfigMap({ namespace: namespace.name, name: 'orphan-owner', propagationPolicy: 'Orphan' });
    await eventually('the owner to be gone', async () => {
      const response = await target.raw(`${configMapsPath()}/orphan-owner`);
      return response.status === 404 ? true : undefined;
    });
    const dependent = await core().readNamespacedConfigMap({ namespace: namespace.name, name: 'orphan-dependent' });
    expect(dependent.metadata?.ownerReferences ?? []).to.deep.equal([]);
  });
});
