/**
 * The change rules through the API server: each change either keeps an address
 * that is still valid or releases it (and allocates again where it can), with an
 * Event saying why; the failure reasons; pool status counts; healing; and the
 * real process's /metrics.
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { V1Service } from '@kubernetes/client-node';
import { KubeRest } from '../../../src/kube/rest.ts';
import { ServiceController } from '../../../src/reconcilers/services.ts';
import { createLogger } from '../../../src/common/log.ts';
import { REPO_ROOT, withLocalApiServer } from '../../support/apiserver.ts';
import { promtoolCheckMetrics, requirePromtool } from '../../support/promtool.ts';
import { waitFor } from '../../support/testbed.ts';
import { startControllerProcess, type ControllerProcess } from './controller-process.ts';

const crdFiles = readdirSync(join(REPO_ROOT, 'crds')).map((file) => join(REPO_ROOT, 'crds', file));
const POOL_NAMESPACE = 'anchorlb-system';
const POOLS = `/apis/anchorlb.io/v1beta1/namespaces/${POOL_NAMESPACE}/ipaddresspools`;
const SERVICES = '/api/v1/namespaces/shop/services';
const FROM_POOL = 'anchorlb.io/ip-allocated-from-pool';
const REQUESTED_IPS = 'anchorlb.io/loadBalancerIPs';
const ADDRESS_POOL = 'anchorlb.io/address-pool';
const SHARED = 'anchorlb.io/allow-shared-ip';

interface ServiceShape {
  annotations?: Record<string, string>;
  ports?: number[];
  ipv6?: boolean;
}

function lbService(name: string, shape: ServiceShape = {}) {
  const families = shape.ipv6 ? { ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' } : {};
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, annotations: shape.annotations ?? {} },
    spec: { type: 'LoadBalancer', selector: { app: name }, ports: (shape.ports ?? [80]).map((port) => ({ name: `p${port}`, port, protocol: 'TCP' })), ...families },
  };
}

function pool(name: string, addresses: string[], autoAssign = true) {
  return { apiVersion: 'anchorlb.io/v1beta1', kind: 'IPAddressPool', metadata: { name }, spec: { addresses, autoAssign } };
}

interface EventItem {
  reason: string;
  message: string;
  type: string;
  involvedObject: { name: string };
}

describe('controller change rules against the local API server', function () {
  this.timeout(60_000);
  const cluster = withLocalApiServer({ crdFiles });
  let rest: KubeRest;
  let controller: ServiceController;

  const service = (name: string) => rest.getJson<V1Service>(`${SERVICES}/${name}`);
  const ingress = async (name: string) => ((await service(name)).status?.loadBalancer?.ingress ?? []).map((entry) => entry.ip ?? '');
  const addressOf = (name: string) => waitFor(`${name} has an address`, async () => (await ingress(name))[0]);
  const eventsFor = async (name: string) => (await rest.getJson<{ items: EventItem[] }>('/api/v1/namespaces/shop/events')).items.filter((event) => event.involvedObject.name === name);
  const eventFor = (name: string, reason: string, containing = '') =>
    waitFor(`${reason} Event on ${name}${containing ? ` mentioning ${containing}` : ''}`, async () => (await eventsFor(name)).find((event) => event.reason === reason && event.message.includes(containing)));

  before(async () => {
    rest = new KubeRest(cluster.kubeConfig);
    for (const name of [POOL_NAMESPACE, 'shop']) await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await rest.create(POOLS, pool('main', ['192.0.2.0/29']));
    await rest.create(POOLS, pool('other', ['198.51.100.0/29'], false));
    await rest.create(POOLS, pool('tiny', ['203.0.113.10/32'], false));
    await rest.create(POOLS, pool('shared', ['203.0.113.20/32'], false));
    controller = new ServiceController({ kubeConfig: cluster.kubeConfig, poolNamespace: POOL_NAMESPACE, logger: createLogger('changes-test', 'silent'), registry: new Registry() });
    await controller.start();
  });

  after(async () => {
    await controller.stop();
  });

  it('keeps an address the request change still allows, and moves one a pool shrink leaves outside, with an Event', async () => {
    await rest.create(SERVICES, lbService('keeper', { annotations: { [REQUESTED_IPS]: '192.0.2.1' } }));
    await rest.create(SERVICES, lbService('mover', { annotations: { [REQUESTED_IPS]: '192.0.2.6' } }));
    expect(await addressOf('keeper')).to.equal('192.0.2.1');
    expect(await addressOf('mover')).to.equal('192.0.2.6');

    // No longer pinned: 192.0.2.6 is still a valid address for it, so it stays.
    await rest.patch(`${SERVICES}/mover`, { metadata: { annotations: { [REQUESTED_IPS]: null } } });
    await controller.idle();
    expect(await ingress('mover')).to.deep.equal(['192.0.2.6']);

    await rest.patch(`${POOLS}/main`, { spec: { addresses: ['192.0.2.0/30'] } });
    const shrunk = await eventFor('mover', 'PoolShrunk', '192.0.2.6');
    expect(shrunk.message).to.contain('main');
    const moved = await waitFor('mover gets a new address inside the shrunk pool', async () => {
      const now = (await ingress('mover'))[0];
      return now !== undefined && now !== '192.0.2.6' ? now : undefined;
    });
    expect(moved).to.match(/^192\.0\.2\.[0-3]$/).and.not.equal('192.0.2.1');
    await eventFor('mover', 'IPAllocated', moved);
    expect(await ingress('keeper')).to.deep.equal(['192.0.2.1']);
    expect((await eventsFor('keeper')).map((event) => event.reason)).to.not.include('PoolShrunk');
  });

  it('moves a Service whose address-pool annotation changes, then releases and clears it when that pool is deleted', async () => {
    await rest.create(SERVICES, lbService('wanderer'));
    expect(await addressOf('wanderer')).to.match(/^192\.0\.2\./);
    await rest.patch(`${SERVICES}/wanderer`, { metadata: { annotations: { [ADDRESS_POOL]: 'other' } } });
    const changed = await eventFor('wanderer', 'RequestChanged', 'other');
    expect(changed.message).to.contain('main');
    const moved = await waitFor('wanderer moves to pool other', async () => ((await ingress('wanderer'))[0]?.startsWith('198.51.100.') ? ingress('wanderer') : undefined));
    expect((await service('wanderer')).metadata?.annotations?.[FROM_POOL]).to.equal('other');

    await rest.delete(`${POOLS}/other`);
    const deleted = await eventFor('wanderer', 'PoolDeleted', moved[0]);
    expect(deleted.message).to.contain('other');
    await eventFor('wanderer', 'PoolNotFound', 'other');
    // The address is no longer held: the Service must not go on showing it.
    await waitFor('wanderer status cleared', async () => (await ingress('wanderer')).length === 0);
    expect((await service('wanderer')).metadata?.annotations?.[FROM_POOL]).to.equal(undefined);
  });

  it('clears status and annotation with an Event when a Service stops being a LoadBalancer', async () => {
    await rest.create(SERVICES, lbService('demoted', { annotations: { [ADDRESS_POOL]: 'tiny' } }));
    const address = await addressOf('demoted');
    await rest.patch(`${SERVICES}/demoted`, { spec: { type: 'ClusterIP' } });
    await eventFor('demoted', 'NotLoadBalancer', address);
    await waitFor('demoted status cleared', async () => (await ingress('demoted')).length === 0);
    expect((await service('demoted')).metadata?.annotations?.[FROM_POOL]).to.equal(undefined);
  });

  it('says Exhausted while the only address is taken, and gives it to the waiting Service once its holder is deleted; pool status counts follow', async () => {
    await rest.create(SERVICES, lbService('first', { annotations: { [ADDRESS_POOL]: 'tiny' } }));
    expect(await addressOf('first')).to.equal('203.0.113.10');
    await rest.create(SERVICES, lbService('second', { annotations: { [ADDRESS_POOL]: 'tiny' } }));
    const exhausted = await eventFor('second', 'Exhausted');
    expect(exhausted.type).to.equal('Warning');
    expect(exhausted.message).to.contain('tiny');
    type PoolStatus = { status?: { assignedIPv4?: number; availableIPv4?: number; totalIPv4?: number } };
    const full = await waitFor('tiny counts one in use', async () => {
      const status = (await rest.getJson<PoolStatus>(`${POOLS}/tiny`)).status;
      return status?.assignedIPv4 === 1 ? status : undefined;
    });
    expect(full).to.include({ totalIPv4: 1, availableIPv4: 0 });

    await rest.delete(`${SERVICES}/first`);
    await waitFor('second gets the freed address', async () => (await ingress('second'))[0] === '203.0.113.10');
    await eventFor('second', 'IPAllocated', '203.0.113.10');
  });

  it('lets two Services with the same sharing key share an address, and names the holder when ports clash', async () => {
    const sharing = { [SHARED]: 'web', [REQUESTED_IPS]: '203.0.113.20' };
    await rest.create(SERVICES, lbService('share-http', { annotations: sharing, ports: [80] }));
    await rest.create(SERVICES, lbService('share-https', { annotations: sharing, ports: [443] }));
    expect(await addressOf('share-http')).to.equal('203.0.113.20');
    expect(await addressOf('share-https')).to.equal('203.0.113.20');
    await rest.create(SERVICES, lbService('share-clash', { annotations: sharing, ports: [80] }));
    const conflict = await eventFor('share-clash', 'SharingConflict');
    expect(conflict.message).to.contain('share-http');
    expect(await ingress('share-clash')).to.deep.equal([]);
    // The holder moves off port 80: the waiting Service may share now, without waiting for a resync.
    await rest.patch(`${SERVICES}/share-http`, { spec: { ports: [{ name: 'p8080', port: 8080, protocol: 'TCP' }] } });
    await waitFor('share-clash shares the address', async () => (await ingress('share-clash'))[0] === '203.0.113.20');
    expect(await ingress('share-http')).to.deep.equal(['203.0.113.20']);
  });

  it('says FamilyUnavailable when no pool has the family, and NotInAnyPool for an address outside every pool', async () => {
    await rest.create(SERVICES, lbService('v6-only', { ipv6: true }));
    const family = await eventFor('v6-only', 'FamilyUnavailable');
    expect(family.message).to.contain('IPv6');
    await rest.create(SERVICES, lbService('stray', { annotations: { [REQUESTED_IPS]: '203.0.113.200' } }));
    const stray = await eventFor('stray', 'NotInAnyPool');
    expect(stray.message).to.contain('203.0.113.200');
    await controller.idle();
    expect(await ingress('v6-only')).to.deep.equal([]);
    expect(await ingress('stray')).to.deep.equal([]);
  });

  it('converges again when its status is wiped behind its back', async () => {
    await rest.create(SERVICES, lbService('healing', { annotations: { [REQUESTED_IPS]: '192.0.2.3' } }));
    expect(await addressOf('healing')).to.equal('192.0.2.3');
    await rest.patch(`${SERVICES}/healing/status`, { status: { loadBalancer: { ingress: [] } } });
    await waitFor('the wiped status comes back', async () => (await ingress('healing'))[0] === '192.0.2.3');
    await rest.patch(`${SERVICES}/healing`, { metadata: { annotations: { [FROM_POOL]: null } } });
    await waitFor('the removed annotation comes back', async () => (await service('healing')).metadata?.annotations?.[FROM_POOL] === 'main');
  });
});

describe('controller process /metrics', function () {
  this.timeout(60_000);
  const cluster = withLocalApiServer({ crdFiles });
  let rest: KubeRest;
  let controller: ControllerProcess | undefined;

  const metrics = async () => {
    const response = await fetch(`http://127.0.0.1:${controller!.metricsPort}/metrics`);
    return response.text();
  };

  before(async () => {
    rest = new KubeRest(cluster.kubeConfig);
    for (const name of [POOL_NAMESPACE, 'shop']) await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await rest.create(POOLS, pool('tiny', ['203.0.113.10/32']));
    controller = await startControllerProcess({ kubeconfigPath: cluster.kubeconfigPath, poolNamespace: POOL_NAMESPACE });
  });

  after(async () => {
    await controller?.kill('SIGKILL');
  });

  it('shows pool totals, addresses in use and allocation errors by reason', async () => {
    await rest.create(SERVICES, lbService('holder'));
    await rest.create(SERVICES, lbService('waiter'));
    const text = await waitFor('metrics show the pool full and an Exhausted error', async () => {
      const body = await metrics();
      return body.includes('anchorlb_pool_addresses_in_use{pool="tiny",family="IPv4"} 1') && /anchorlb_allocation_errors_total\{reason="Exhausted"\} [1-9]/.test(body) ? body : undefined;
    });
    expect(text).to.contain('anchorlb_pool_addresses{pool="tiny",family="IPv4"} 1');
    expect(text).to.contain('anchorlb_pool_addresses{pool="tiny",family="IPv6"} 0');
    expect(text).to.contain('anchorlb_config_loaded_bool 1');
    expect(text).to.contain('anchorlb_config_stale_bool 0');
  });

  it('says the configuration is stale while a pool is refused, and back when it is gone', async () => {
    await rest.create(POOLS, pool('overlapping', ['203.0.113.10/31']));
    await waitFor('config stale 1', async () => (await metrics()).includes('anchorlb_config_stale_bool 1'));
    await rest.delete(`${POOLS}/overlapping`);
    await waitFor('config stale 0', async () => (await metrics()).includes('anchorlb_config_stale_bool 0'));
  });

  it('passes promtool check metrics', async function () {
    requirePromtool(this);
    await promtoolCheckMetrics(await metrics());
  });
});
