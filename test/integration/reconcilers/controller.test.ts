import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { V1Service } from '@kubernetes/client-node';
import { KubeRest, KubeHttpError } from '../../../src/kube/rest.ts';
import { ServiceController } from '../../../src/reconcilers/services.ts';
import { createLogger } from '../../../src/common/log.ts';
import { REPO_ROOT, withLocalApiServer } from '../../support/apiserver.ts';
import { waitFor } from '../../support/testbed.ts';

const crdFiles = readdirSync(join(REPO_ROOT, 'crds')).map((file) => join(REPO_ROOT, 'crds', file));
const POOLS = '/apis/anchorlb.io/v1beta1/namespaces/anchorlb-system/ipaddresspools';
const SERVICES = '/api/v1/namespaces/shop/services';

function lbService(name: string, extra: { annotations?: Record<string, string>; spec?: Record<string, unknown> } = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, annotations: extra.annotations ?? {} },
    spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80, protocol: 'TCP' }], ...extra.spec },
  };
}

describe('controller against the local API server', function () {
  this.timeout(60_000);
  const cluster = withLocalApiServer({ crdFiles });
  let rest: KubeRest;
  let controller: ServiceController | undefined;

  const ingress = async (name: string) => {
    const service = await rest.getJson<V1Service>(`${SERVICES}/${name}`);
    return (service.status?.loadBalancer?.ingress ?? []).map((entry) => entry.ip ?? '');
  };
  const eventsFor = async (name: string) => {
    const list = await rest.getJson<{ items: Array<{ reason: string; message: string; involvedObject: { name: string } }> }>('/api/v1/namespaces/shop/events');
    return list.items.filter((event) => event.involvedObject.name === name);
  };
  /**
   * A rival writes `foreign` into the Service's status again each time anchorlb has answered the
   * previous write, until anchorlb steps back: what it did after each write, as a user sees it
   * (its own address back in the status, or its StatusConflict condition set).
   */
  const fightRival = async (name: string, foreign: string, ours: string) => {
    const answers: Array<'rewrote' | 'stepped back'> = [];
    while (answers.length < 6 && answers.at(-1) !== 'stepped back') {
      await rest.patch(`${SERVICES}/${name}/status`, { status: { loadBalancer: { ingress: [{ ip: foreign }] } } });
      answers.push(
        await waitFor(`anchorlb answers the rival write #${answers.length + 1} on ${name}`, async () => {
          const service = await rest.getJson<V1Service & { status: { conditions?: Array<{ type: string; status: string }> } }>(`${SERVICES}/${name}`);
          if (service.status.loadBalancer?.ingress?.[0]?.ip === ours) return 'rewrote' as const;
          return service.status.conditions?.some((c) => c.type === 'anchorlb.io/StatusConflict' && c.status === 'True') ? ('stepped back' as const) : undefined;
        }),
      );
    }
    return answers;
  };
  const startController = async (options: { rivalQuietMs?: number } = {}) => {
    controller = new ServiceController({ kubeConfig: cluster.kubeConfig, poolNamespace: 'anchorlb-system', logger: createLogger('controller-test', 'silent'), registry: new Registry(), ...options });
    await controller.start();
  };

  before(async () => {
    rest = new KubeRest(cluster.kubeConfig);
    for (const name of ['anchorlb-system', 'shop']) await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await rest.create(POOLS, { apiVersion: 'anchorlb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'public' }, spec: { addresses: ['192.0.2.0/29', '2001:db8:1::/126'] } });
    await rest.create(POOLS, { apiVersion: 'anchorlb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'spare' }, spec: { addresses: ['198.51.100.0/28'], autoAssign: false } });
  });

  afterEach(async () => {
    await controller?.stop();
    controller = undefined;
  });

  it('gives a LoadBalancer Service an address from the pool, says where from, and records an Event', async () => {
    await startController();
    await rest.create(SERVICES, lbService('web'));
    const ips = await waitFor('web gets an address', async () => ((await ingress('web')).length > 0 ? ingress('web') : undefined));
    expect(ips).to.have.length(1);
    expect(ips[0]).to.match(/^192\.0\.2\.[0-7]$/);
    const service = await rest.getJson<V1Service>(`${SERVICES}/web`);
    expect(service.metadata?.annotations?.['anchorlb.io/ip-allocated-from-pool']).to.equal('public');
    const events = await waitFor('allocation event', async () => ((await eventsFor('web')).some((e) => e.reason === 'IPAllocated') ? eventsFor('web') : undefined));
    expect(events.find((e) => e.reason === 'IPAllocated')?.message).to.contain(ips[0]).and.contain('public');
  });

  it('honours a requested IP, leaves other classes and other types alone, and gives dual-stack Services both families', async () => {
    await startController();
    await rest.create(SERVICES, lbService('pinned', { annotations: { 'anchorlb.io/loadBalancerIPs': '192.0.2.6' } }));
    await rest.create(SERVICES, lbService('foreign', { spec: { loadBalancerClass: 'example.com/other' } }));
    await rest.create(SERVICES, lbService('dual', { spec: { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] } }));
    await waitFor('pinned gets 192.0.2.6', async () => (await ingress('pinned'))[0] === '192.0.2.6' || undefined);
    const dual = await waitFor('dual gets two addresses', async () => ((await ingress('dual')).length === 2 ? ingress('dual') : undefined));
    expect(dual[0]).to.match(/^192\.0\.2\./);
    expect(dual[1]).to.match(/^2001:db8:1::/);
    await controller!.idle();
    expect(await ingress('foreign')).to.deep.equal([]);
    expect((await rest.getJson<V1Service>(`${SERVICES}/foreign`)).metadata?.annotations?.['anchorlb.io/ip-allocated-from-pool']).to.equal(undefined);
  });

  it('says exactly why when the pool is exhausted, and releases an address when the Service stops being a LoadBalancer', async () => {
    await startController();
    const names: string[] = [];
    for (let i = 0; i < 6; i++) {
      names.push(`fill-${i}`);
      await rest.create(SERVICES, lbService(`fill-${i}`));
    }
    const failing = await waitFor('an exhausted Event', async () => {
      for (const name of names) {
        const event = (await eventsFor(name)).find((e) => e.reason === 'Exhausted' || e.reason === 'NoEligiblePool');
        if (event) return { name, event };
      }
      return undefined;
    });
    expect(failing.event.message).to.match(/public|no free|exhausted/i);
    const holder = names.find((name) => name !== failing.name)!;
    const held = await waitFor(`${holder} holds an address`, async () => ((await ingress(holder)).length > 0 ? ingress(holder) : undefined));
    await rest.patch(`${SERVICES}/${holder}`, { spec: { type: 'ClusterIP' } });
    await waitFor(`${holder} status cleared`, async () => (await ingress(holder)).length === 0 || undefined);
    // The freed address goes to the Service that was waiting.
    await waitFor(`${failing.name} gets the freed address`, async () => (await ingress(failing.name))[0] === held[0] || undefined);
  });

  it('steps back from a rival status writer after three contradicting writes, with a condition and an Event naming its value', async () => {
    await startController({ rivalQuietMs: 3_600_000 });
    await rest.create(SERVICES, lbService('contested', { annotations: { 'anchorlb.io/address-pool': 'spare' } }));
    const ours = await waitFor('contested gets an address', async () => ((await ingress('contested')).length > 0 ? ingress('contested') : undefined));
    expect(await fightRival('contested', '203.0.113.77', ours[0]!)).to.deep.equal(['rewrote', 'rewrote', 'stepped back']);
    // Stepped back for good (the quiet period is an hour): a further rival write is left alone too.
    await rest.patch(`${SERVICES}/contested/status`, { status: { loadBalancer: { ingress: [{ ip: '203.0.113.77' }] } } });
    await controller!.idle();
    const event = await waitFor('StatusConflict event', async () => (await eventsFor('contested')).find((e) => e.reason === 'StatusConflict'));
    expect(event.message).to.contain('203.0.113.77').and.contain(ours[0]);
    const service = await rest.getJson<V1Service & { status: { conditions?: Array<{ type: string; status: string }> } }>(`${SERVICES}/contested`);
    expect(service.status.conditions?.find((c) => c.type === 'anchorlb.io/StatusConflict')?.status).to.equal('True');
    expect(await ingress('contested')).to.deep.equal(['203.0.113.77']);
  });

  it('writes again once the rival has been quiet, and clears its condition', async () => {
    await startController({ rivalQuietMs: 1_000 });
    await rest.create(SERVICES, lbService('contested-briefly', { annotations: { 'anchorlb.io/address-pool': 'spare' } }));
    const ours = await waitFor('contested-briefly gets an address', async () => ((await ingress('contested-briefly')).length > 0 ? ingress('contested-briefly') : undefined));
    expect(await fightRival('contested-briefly', '203.0.113.78', ours[0]!)).to.deep.equal(['rewrote', 'rewrote', 'stepped back']);
    await waitFor('StatusConflict event', async () => (await eventsFor('contested-briefly')).find((e) => e.reason === 'StatusConflict'));
    // The rival is gone now: after the quiet period anchorlb's address comes back.
    await waitFor('anchorlb writes again', async () => (await ingress('contested-briefly'))[0] === ours[0] || undefined);
    const service = await rest.getJson<V1Service & { status: { conditions?: Array<{ type: string; status: string }> } }>(`${SERVICES}/contested-briefly`);
    expect(service.status.conditions?.find((c) => c.type === 'anchorlb.io/StatusConflict')?.status).to.equal('False');
    expect((await eventsFor('contested-briefly')).some((e) => e.reason === 'StatusConflictResolved')).to.equal(true);
  });

  it('does not add up contradicting writes that lie further apart than the quiet period', async () => {
    const quietMs = 300;
    await startController({ rivalQuietMs: quietMs });
    await rest.create(SERVICES, lbService('edited-now-and-then', { annotations: { 'anchorlb.io/address-pool': 'spare' } }));
    const ours = await waitFor('edited-now-and-then gets an address', async () => (await ingress('edited-now-and-then'))[0]);
    for (let round = 0; round < 4; round++) {
      await rest.patch(`${SERVICES}/edited-now-and-then/status`, { status: { loadBalancer: { ingress: [{ ip: '203.0.113.79' }] } } });
      await waitFor('anchorlb writes its address back', async () => (await ingress('edited-now-and-then'))[0] === ours);
      await new Promise((resolve) => setTimeout(resolve, quietMs * 2));
    }
    await controller!.idle();
    expect((await eventsFor('edited-now-and-then')).map((e) => e.reason)).to.not.include('StatusConflict');
  });

  it('after a restart adopts every address already written before allocating anything new', async () => {
    await startController();
    await waitFor('every earlier Service settled', async () => {
      await controller!.idle();
      return true;
    });
    const list = await rest.getJson<{ items: V1Service[] }>(SERVICES);
    const before = new Map(list.items.map((s) => [s.metadata!.name!, (s.status?.loadBalancer?.ingress ?? []).map((e) => e.ip).join(',')]));
    await controller!.stop();
    controller = undefined;
    await rest.create(SERVICES, lbService('after-restart'));
    await startController();
    await controller!.idle();
    await waitFor('after-restart settled', async () => {
      await controller!.idle();
      return true;
    });
    const again = await rest.getJson<{ items: V1Service[] }>(SERVICES);
    for (const service of again.items) {
      const name = service.metadata!.name!;
      if (before.has(name) && before.get(name) !== '') expect((service.status?.loadBalancer?.ingress ?? []).map((e) => e.ip).join(','), name).to.equal(before.get(name));
    }
    const all = again.items.flatMap((s) => (s.status?.loadBalancer?.ingress ?? []).map((e) => e.ip));
    expect(new Set(all).size).to.equal(all.length, `duplicates in ${all.join(' ')}`);
  });

  it('refuses an overlapping pool with a condition naming the earlier one, which keeps working', async () => {
    await startController();
    await rest.create(POOLS, { apiVersion: 'anchorlb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'overlapping' }, spec: { addresses: ['192.0.2.4/30'] } });
    type PoolStatus = { status?: { conditions?: Array<{ type: string; status: string; message: string }> } };
    const refused = await waitFor('Refused condition', async () => {
      const pool = await rest.getJson<PoolStatus>(`${POOLS}/overlapping`).catch((error: unknown) => (error instanceof KubeHttpError ? undefined : Promise.reject(error)));
      return pool?.status?.conditions?.find((c) => c.type === 'Refused' && c.status === 'True');
    });
    expect(refused.message).to.contain('public');
    const pub = await rest.getJson<PoolStatus & { status?: { assignedIPv4?: number } }>(`${POOLS}/public`);
    expect(pub.status?.conditions?.find((c) => c.type === 'Refused')?.status).to.equal('False');
    expect(pub.status?.assignedIPv4).to.be.greaterThan(0);
  });

  it('a typo or an overlapping edit of a pool in use keeps its last good spec serving: Stale condition, one Event, no Service loses or changes its address', async () => {
    type PoolStatus = { status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } };
    const conditionOf = async (pool: string, type: string) => (await rest.getJson<PoolStatus>(`${POOLS}/${pool}`)).status?.conditions?.find((c) => c.type === type);
    const poolEvents = async (pool: string) => {
      const list = await rest.getJson<{ items: Array<{ reason: string; message: string; involvedObject: { name: string; kind: string } }> }>('/api/v1/namespaces/anchorlb-system/events');
      return list.items.filter((event) => event.involvedObject.kind === 'IPAddressPool' && event.involvedObject.name === pool);
    };
    const allIngress = async () => {
      const list = await rest.getJson<{ items: V1Service[] }>(SERVICES);
      return Object.fromEntries(list.items.map((s) => [s.metadata!.name!, (s.status?.loadBalancer?.ingress ?? []).map((e) => e.ip).join(',')]));
    };
    await startController();
    await rest.create(SERVICES, lbService('on-spare', { annotations: { 'anchorlb.io/address-pool': 'spare' } }));
    await rest.create(SERVICES, lbService('on-public-v6', { spec: { ipFamilies: ['IPv6'] } }));
    await rest.create(POOLS, { apiVersion: 'anchorlb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'shadow' }, spec: { addresses: ['2001:db8:1::/120'] } });
    for (const name of ['on-spare', 'on-public-v6']) await waitFor(`${name} gets an address`, async () => ((await ingress(name)).length > 0 ? true : undefined));
    await controller!.idle();
    const before = await allIngress();
    const settled = async (what: string, check: () => Promise<boolean>) => {
      await waitFor(what, async () => {
        await controller!.idle();
        return (await check()) || undefined;
      });
      expect(await allIngress()).to.deep.equal(before);
    };

    // A typo in the pool most Services use.
    await rest.patch(`${POOLS}/public`, { spec: { addresses: ['192.0.2.0/33', '2001:db8:1::/126'] } });
    await settled('public is stale', async () => (await conditionOf('public', 'Stale'))?.status === 'True');
    expect(await conditionOf('public', 'Stale')).to.deep.include({
      reason: 'InvalidSpec',
      message: 'this edit is refused and the spec of generation 1 stays in force: pool public: spec.addresses[0]: "192.0.2.0/33": prefix length must be 0 to 32 for IPv4',
    });
    expect(await conditionOf('public', 'Refused')).to.deep.include({ status: 'True', reason: 'InvalidSpec' });
    // The pool refused for overlapping it does not come back.
    expect(await conditionOf('shadow', 'Refused')).to.deep.include({ status: 'True', reason: 'Overlap' });
    // A Service created meanwhile gets a free address of the spec in force, or none: never one held.
    await rest.create(SERVICES, lbService('meanwhile'));
    await waitFor('meanwhile handled', async () => ((await ingress('meanwhile')).length > 0 || (await eventsFor('meanwhile')).length > 0) || undefined);
    const meanwhile = (await ingress('meanwhile')).join(',');
    expect(Object.values(before)).to.not.include(meanwhile === '' ? 'none' : meanwhile);
    before.meanwhile = meanwhile;

    // A selector no Service could ever match (In with no values) is refused at the door (the CRD's validation rules).
    const refusedAtTheDoor = await rest
      .patch(`${POOLS}/public`, { spec: { serviceAllocation: { serviceSelectors: [{ matchExpressions: [{ key: 'app', operator: 'In', values: [] }] }] } } })
      .then(() => undefined, (error: unknown) => error);
    expect(refusedAtTheDoor).to.be.instanceOf(KubeHttpError);
    expect(String((refusedAtTheDoor as KubeHttpError).message)).to.contain('operator In needs at least one value');

    // An edit of the older pool overlapping the newer one in use: refused for the edited pool.
    await rest.patch(`${POOLS}/public`, { spec: { addresses: ['192.0.2.0/29', '2001:db8:1::/126', '198.51.100.0/24'] } });
    await settled('public refused for overlap', async () => (await conditionOf('public', 'Stale'))?.reason === 'Overlap');
    expect((await conditionOf('public', 'Stale'))?.message).to.contain('overlaps 198.51.100.0-198.51.100.15 of pool spare, which is in force');
    expect(await conditionOf('spare', 'Refused')).to.deep.include({ status: 'False', reason: 'Accepted' });

    // Restored: in force again, nothing moved.
    await rest.patch(`${POOLS}/public`, { spec: { addresses: ['192.0.2.0/29', '2001:db8:1::/126'] } });
    await settled('public current again', async () => (await conditionOf('public', 'Stale'))?.status === 'False');
    expect(await conditionOf('public', 'Refused')).to.deep.include({ status: 'False', reason: 'Accepted' });
    const told = (await poolEvents('public')).map((event) => event.reason).sort();
    expect(told).to.deep.equal(['InvalidSpec', 'Overlap']);
  });
});

describe('controller start-up against Services it addressed before', function () {
  this.timeout(60_000);
  const cluster = withLocalApiServer({ crdFiles });

  it('adopts every Service already addressed without a single write', async () => {
    const rest = new KubeRest(cluster.kubeConfig);
    for (const name of ['anchorlb-system', 'shop']) await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await rest.create(POOLS, { apiVersion: 'anchorlb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'public' }, spec: { addresses: ['192.0.2.0/24', '2001:db8:1::/120'] } });
    for (let i = 0; i < 20; i++) await rest.create(SERVICES, lbService(`web-${i}`, i % 2 === 0 ? {} : { spec: { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] } }));
    const start = async () => {
      const controller = new ServiceController({ kubeConfig: cluster.kubeConfig, poolNamespace: 'anchorlb-system', logger: createLogger('controller-test', 'silent'), registry: new Registry() });
      await controller.start();
      await controller.idle();
      return controller;
    };
    const first = await start();
    const list = await rest.getJson<{ items: V1Service[] }>(SERVICES);
    expect(list.items.filter((s) => (s.status?.loadBalancer?.ingress ?? []).length > 0)).to.have.length(20);
    await first.stop();
    // The store's revision (any list's resourceVersion) counts every write to the server.
    const revision = async () => (await rest.getJson<{ metadata: { resourceVersion: string } }>('/api/v1/namespaces')).metadata.resourceVersion;
    const before = await revision();
    const second = await start();
    try {
      expect(await revision()).to.equal(before);
    } finally {
      await second.stop();
    }
  });
});
