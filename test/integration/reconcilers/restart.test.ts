/**
 * The real `anchorlb controller` process, killed with SIGKILL in the middle of a
 * burst of 1,000 new Services and started again: no address already written
 * changes, none is given twice, all come from the pool. And a rival status writer
 * against the real process, and convergence after changes it missed while down.
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Service } from '@kubernetes/client-node';
import { KubeRest } from '../../../src/kube/rest.ts';
import { REPO_ROOT, withLocalApiServer } from '../../support/apiserver.ts';
import { waitFor } from '../../support/testbed.ts';
import { createAll, ingressByName, ipv4Service, ipv6Service, startControllerProcess, type ControllerProcess } from './controller-process.ts';

const crdFiles = readdirSync(join(REPO_ROOT, 'crds')).map((file) => join(REPO_ROOT, 'crds', file));
const POOL_NAMESPACE = 'anchorlb-system';
const POOLS = `/apis/anchorlb.io/v1beta1/namespaces/${POOL_NAMESPACE}/ipaddresspools`;
const SERVICES = '/api/v1/namespaces/burst/services';
const CONVERGE = '/api/v1/namespaces/converge/services';
const BURST = 1000;
/** 2001:db8:b::/116: 4,096 addresses, so a wrong one cannot hide in a huge range. */
const IN_POOL = /^2001:db8:b::(?:[0-9a-f]{1,3})?$/;

function addressedCount(ingress: Map<string, string[]>): number {
  return [...ingress.values()].filter((ips) => ips.length > 0).length;
}

describe('controller process: SIGKILL in a burst, restart, rival writer', function () {
  this.timeout(120_000);
  const cluster = withLocalApiServer({ crdFiles });
  let rest: KubeRest;
  let controller: ControllerProcess | undefined;

  const start = async () => {
    controller = await startControllerProcess({ kubeconfigPath: cluster.kubeconfigPath, poolNamespace: POOL_NAMESPACE });
  };

  before(async () => {
    rest = new KubeRest(cluster.kubeConfig);
    for (const name of [POOL_NAMESPACE, 'burst', 'converge']) await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await rest.create(POOLS, { apiVersion: 'anchorlb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'burst' }, spec: { addresses: ['2001:db8:b::/116'] } });
    await rest.create(POOLS, { apiVersion: 'anchorlb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'small' }, spec: { addresses: ['203.0.113.0/30'], autoAssign: false } });
  });

  after(async () => {
    await controller?.kill('SIGKILL');
  });

  it('keeps every address already written and gives no address twice after a SIGKILL in a burst of 1,000 Services', async () => {
    await start();
    const creating = createAll(rest, SERVICES, Array.from({ length: BURST }, (_, i) => ipv6Service(`svc-${i}`)));
    await waitFor('a few hundred Services addressed', async () => addressedCount(await ingressByName(rest, SERVICES)) >= 200, 60_000, 50);
    const killed = controller!;
    await killed.kill('SIGKILL');
    controller = undefined;
    await creating;

    // Nothing writes while no controller runs: this is what the dead process left behind.
    const snapshot = await ingressByName(rest, SERVICES);
    const writtenBefore = addressedCount(snapshot);
    expect(writtenBefore, 'the kill must land in the middle of the burst').to.be.greaterThan(0).and.lessThan(BURST);

    await start();
    const final = await waitFor('all 1,000 Services addressed after the restart', async () => {
      const now = await ingressByName(rest, SERVICES);
      return addressedCount(now) === BURST ? now : undefined;
    }, 90_000, 250);

    for (const [name, ips] of snapshot) {
      if (ips.length > 0) expect(final.get(name), `${name} changed after the restart`).to.deep.equal(ips);
    }
    const all = [...final.values()].flat();
    expect(all).to.have.length(BURST);
    const duplicates = all.filter((ip, index) => all.indexOf(ip) !== index);
    expect(duplicates, 'addresses given twice').to.deep.equal([]);
    expect(all.filter((ip) => !IN_POOL.test(ip)), 'addresses outside 2001:db8:b::/116').to.deep.equal([]);
    // A kill between the status write and the annotation write is healed too.
    const list = await rest.getJson<{ items: V1Service[] }>(SERVICES);
    const unannotated = list.items.filter((service) => service.metadata?.annotations?.['anchorlb.io/ip-allocated-from-pool'] !== 'burst').map((service) => service.metadata?.name);
    expect(unannotated, 'Services without the pool annotation').to.deep.equal([]);
    // Its own earlier writes are not a rival's: no Service saw a status conflict.
    const events = await rest.getJson<{ items: Array<{ reason: string; involvedObject: { name: string } }> }>('/api/v1/namespaces/burst/events');
    expect(events.items.filter((event) => event.reason === 'StatusConflict').map((event) => event.involvedObject.name)).to.deep.equal([]);
  });

  it('converges from what it finds after changes it missed while it was down', async () => {
    if (!controller) await start();
    const small = (name: string) => ({ ...ipv4Service(name), metadata: { name, annotations: { 'anchorlb.io/address-pool': 'small' } } });
    await createAll(rest, CONVERGE, ['kept', 'deleted', 'demoted', 'wiped'].map(small));
    const before = await waitFor('the small pool is full', async () => {
      const now = await ingressByName(rest, CONVERGE);
      return addressedCount(now) === 4 ? now : undefined;
    });
    await controller!.kill('SIGKILL');
    controller = undefined;

    await rest.delete(`${CONVERGE}/deleted`);
    await rest.patch(`${CONVERGE}/demoted`, { spec: { type: 'ClusterIP' } });
    await rest.patch(`${CONVERGE}/wiped/status`, { status: { loadBalancer: { ingress: [] } } });
    await rest.create(CONVERGE, small('created'));
    await start();

    const after = await waitFor('wiped and created addressed, demoted cleared', async () => {
      const now = await ingressByName(rest, CONVERGE);
      return now.get('wiped')?.length === 1 && now.get('created')?.length === 1 && now.get('demoted')?.length === 0 ? now : undefined;
    });
    expect(after.get('kept')).to.deep.equal(before.get('kept'));
    const held = [...after.values()].flat();
    expect(new Set(held).size, `duplicates in ${held.join(' ')}`).to.equal(held.length);
    expect(held.every((ip) => /^203\.0\.113\.[0-3]$/.test(ip)), held.join(' ')).to.equal(true);
    const demoted = await rest.getJson<V1Service>(`${CONVERGE}/demoted`);
    expect(demoted.metadata?.annotations?.['anchorlb.io/ip-allocated-from-pool']).to.equal(undefined);
  });

  it('steps back from a rival status writer with an Event naming its value', async () => {
    if (!controller) await start();
    await rest.create(SERVICES, ipv6Service('contested'));
    const ours = await waitFor('contested gets an address', async () => (await ingressByName(rest, SERVICES)).get('contested')?.[0]);
    const foreign = '2001:db8:ffff::77';
    const conflict = await waitFor('StatusConflict Event', async () => {
      const current = (await ingressByName(rest, SERVICES)).get('contested')?.[0];
      // The rival writes over anchorlb whenever anchorlb has written its own address back.
      if (current !== foreign) await rest.patch(`${SERVICES}/contested/status`, { status: { loadBalancer: { ingress: [{ ip: foreign }] } } });
      const events = await rest.getJson<{ items: Array<{ reason: string; message: string; involvedObject: { name: string } }> }>('/api/v1/namespaces/burst/events');
      return events.items.find((event) => event.involvedObject.name === 'contested' && event.reason === 'StatusConflict');
    }, 30_000, 200);
    expect(conflict.message).to.contain(foreign).and.contain(ours);
    const service = await rest.getJson<V1Service & { status: { conditions?: Array<{ type: string; status: string }> } }>(`${SERVICES}/contested`);
    expect(service.status.conditions?.find((condition) => condition.type === 'anchorlb.io/StatusConflict')?.status).to.equal('True');
    expect(service.status.loadBalancer?.ingress?.map((entry) => entry.ip)).to.deep.equal([foreign]);
  });
});
