import { expect } from 'chai';
import { desiredVipStatuses, planVipStatuses, vipStatusName, type AnnouncedVip } from '../../../src/speaker/vipstatus.ts';

const l2 = (ip: string, iface = 'eth0'): AnnouncedVip => ({ ip, mode: 'L2', services: [{ namespace: 'shop', name: 'web', uid: 'u1' }], status: { interface: iface, since: '2026-11-25T08:00:00Z', pool: 'public' } });

describe('speaker/vipstatus: one object per announced IP, node and mode', () => {
  it('names, labels and owns each object by its Service', () => {
    const [object] = desiredVipStatuses('node-a', [l2('2001:db8::5')]);
    expect(object!.metadata).to.deep.include({ name: 'web-2001-db8--5-node-a-l2', namespace: 'shop' });
    expect(object!.metadata.labels).to.deep.equal({ 'anchorlb.io/ip': '2001-db8--5', 'anchorlb.io/node': 'node-a', 'anchorlb.io/service-name': 'web', 'anchorlb.io/service-namespace': 'shop' });
    expect(object!.metadata.ownerReferences?.[0]).to.deep.include({ kind: 'Service', name: 'web', uid: 'u1' });
    expect(object!.status).to.deep.include({ ip: '2001:db8::5', mode: 'L2', node: 'node-a', interface: 'eth0', service: { namespace: 'shop', name: 'web' } });
  });

  it('writes one object per Service when Services share the IP', () => {
    const shared: AnnouncedVip = { ...l2('192.0.2.53'), services: [{ namespace: 'dns', name: 'tcp' }, { namespace: 'dns', name: 'udp' }] };
    expect(desiredVipStatuses('n', [shared]).map((o) => o.metadata.name)).to.deep.equal(['tcp-192.0.2.53-n-l2', 'udp-192.0.2.53-n-l2']);
  });

  it('plans nothing when the objects already say so: no write when nothing changed', () => {
    const desired = desiredVipStatuses('n', [l2('192.0.2.5')]);
    expect(planVipStatuses(desired, desired)).to.deep.equal({ create: [], updateStatus: [], delete: [] });
  });

  it('creates the new, patches changed statuses (clearing fields that are gone), deletes what is no longer announced', () => {
    const before = desiredVipStatuses('n', [l2('192.0.2.5'), l2('192.0.2.6')]);
    const bgp: AnnouncedVip = { ip: '192.0.2.5', mode: 'BGP', services: [{ namespace: 'shop', name: 'web' }], status: { peers: [{ name: 'tor', state: 'Established', advertised: true }] } };
    const after = desiredVipStatuses('n', [{ ...l2('192.0.2.5', 'eth1'), status: { since: '2026-11-25T09:00:00Z' } }, bgp]);
    const plan = planVipStatuses(after, before);
    expect(plan.create.map((o) => o.metadata.name)).to.deep.equal(['web-192.0.2.5-n-bgp']);
    expect(plan.updateStatus.map((u) => u.object.metadata.name)).to.deep.equal(['web-192.0.2.5-n-l2']);
    expect(plan.updateStatus[0]!.patch.status).to.deep.include({ since: '2026-11-25T09:00:00Z', interface: null, pool: null });
    expect(plan.delete.map((o) => o.metadata.name)).to.deep.equal(['web-192.0.2.6-n-l2']);
  });

  it('keeps names valid object names', () => {
    expect(vipStatusName('Web', '192.0.2.1', 'Node-A', 'BGP')).to.equal('web-192.0.2.1-node-a-bgp');
    expect(vipStatusName('x'.repeat(300), '192.0.2.1', 'n', 'L2').length).to.be.at.most(253);
  });
});
