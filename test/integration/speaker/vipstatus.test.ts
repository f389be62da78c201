import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Service } from '@kubernetes/client-node';
import { KubeRest } from '../../../src/kube/rest.ts';
import { createLogger } from '../../../src/common/log.ts';
import { VipStatusWriter, type AnnouncedVip } from '../../../src/speaker/vipstatus.ts';
import type { VIPStatus } from '../../../src/api/index.ts';
import { REPO_ROOT, withLocalApiServer } from '../../support/apiserver.ts';
import { waitFor } from '../../support/testbed.ts';

const crdFiles = readdirSync(join(REPO_ROOT, 'crds')).map((file) => join(REPO_ROOT, 'crds', file));

describe('VIPStatus written by speakers, read with kubectl', function () {
  this.timeout(60_000);
  const cluster = withLocalApiServer({ crdFiles });
  let rest: KubeRest;
  let service: V1Service;

  before(async () => {
    rest = new KubeRest(cluster.kubeConfig);
    await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    service = await rest.create<V1Service>('/api/v1/namespaces/shop/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] },
    });
  });

  const announced = (node: string, extra: Partial<AnnouncedVip['status']> = {}): AnnouncedVip[] => [
    { ip: '192.0.2.10', mode: 'L2', services: [{ namespace: 'shop', name: 'web', uid: service.metadata!.uid! }], status: { interface: 'eth0', since: new Date().toISOString(), ...extra } },
  ];

  it('kubectl get vipstatus -A shows IP, Service, node, mode and interface; -l anchorlb.io/ip finds an IP', async () => {
    const writer = new VipStatusWriter(rest, 'node-a', createLogger('vips', 'silent'));
    const plan = await writer.write(announced('node-a', { lastTransition: { reason: 'NodeFailed', from: 'node-b', outageMs: 640 } }));
    expect(plan.create).to.have.length(1);
    const table = await cluster.kubectl(['get', 'vipstatus', '-A']);
    expect(table.code, table.stderr).to.equal(0);
    expect(table.stdout).to.match(/NAMESPACE\s+NAME\s+IP\s+SERVICE\s+NODE\s+MODE\s+INTERFACE\s+PEERS\s+AGE/);
    expect(table.stdout).to.match(/shop\s+web-192\.0\.2\.10-node-a-l2\s+192\.0\.2\.10\s+web\s+node-a\s+L2\s+eth0/);
    const byIp = await cluster.kubectl(['get', 'vips', '-A', '-l', 'anchorlb.io/ip=192.0.2.10', '-o', 'jsonpath={.items[*].status.lastTransition}']);
    expect(JSON.parse(byIp.stdout)).to.deep.equal({ reason: 'NodeFailed', from: 'node-b', outageMs: 640 });
  });

  it('writes nothing when nothing changed, and removes the object when the node stops announcing', async () => {
    const writer = new VipStatusWriter(rest, 'node-a', createLogger('vips', 'silent'));
    const [current] = await writer.existing();
    const again = await writer.write([{ ...announced('node-a')[0]!, status: current!.status! }]);
    expect(again).to.deep.equal({ create: [], updateStatus: [], delete: [] });
    const gone = await writer.write([]);
    expect(gone.delete.map((o) => o.metadata.name)).to.deep.equal(['web-192.0.2.10-node-a-l2']);
    expect(await writer.existing()).to.deep.equal([]);
  });

  it("touches only its own node's objects, and goes with the Service", async () => {
    await new VipStatusWriter(rest, 'node-a', createLogger('vips', 'silent')).write(announced('node-a'));
    await new VipStatusWriter(rest, 'node-b', createLogger('vips', 'silent')).write([]);
    const all = await rest.getJson<{ items: VIPStatus[] }>('/apis/anchorlb.io/v1beta1/vipstatuses');
    expect(all.items.map((o) => o.metadata.name)).to.deep.equal(['web-192.0.2.10-node-a-l2']);
    await rest.delete('/api/v1/namespaces/shop/services/web');
    await waitFor('VIPStatus collected with its Service', async () => {
      const left = await rest.getJson<{ items: VIPStatus[] }>('/apis/anchorlb.io/v1beta1/vipstatuses');
      return left.items.length === 0 || undefined;
    });
  });
});
