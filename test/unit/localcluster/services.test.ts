import { expect } from 'chai';
import { admitService, type Allocations } from '../../../src/localcluster/services.ts';
import type { KubeObject } from '../../../src/localcluster/types.ts';

function service(spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec };
}

function none(): Allocations {
  return { clusterIPs: new Set(), nodePorts: new Set() };
}

function spec(object: KubeObject): Record<string, unknown> {
  return object.spec as Record<string, unknown>;
}

describe('localcluster Service admission', () => {
  it('defaults a ClusterIP Service and allocates the lowest free address', () => {
    const svc = service({ ports: [{ port: 80 }] });
    const used = none();
    used.clusterIPs.add('10.96.0.1');
    expect(admitService(svc, undefined, used)).to.deep.equal([]);
    expect(spec(svc)).to.deep.include({ type: 'ClusterIP', sessionAffinity: 'None', internalTrafficPolicy: 'Cluster', ipFamilyPolicy: 'SingleStack', clusterIP: '10.96.0.2' });
    expect(spec(svc).ipFamilies).to.deep.equal(['IPv4']);
    expect(spec(svc).clusterIPs).to.deep.equal(['10.96.0.2']);
    expect(spec(svc).ports).to.deep.equal([{ port: 80, protocol: 'TCP', targetPort: 80 }]);
  });

  it('gives LoadBalancer Services node ports unless allocateLoadBalancerNodePorts is false', () => {
    const used = none();
    used.nodePorts.add(30000);
    const lb = service({ type: 'LoadBalancer', ports: [{ port: 80 }] });
    admitService(lb, undefined, used);
    expect(spec(lb)).to.deep.include({ allocateLoadBalancerNodePorts: true, externalTrafficPolicy: 'Cluster' });
    expect((spec(lb).ports as { nodePort: number }[])[0]?.nodePort).to.equal(30001);
    const without = service({ type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }] });
    admitService(without, undefined, none());
    expect((spec(without).ports as Record<string, unknown>[])[0]).to.not.have.property('nodePort');
    const local = service({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }] });
    admitService(local, undefined, none());
    expect(spec(local).healthCheckNodePort).to.be.a('number');
  });

  it('allocates both families for PreferDualStack and RequireDualStack, in the order asked', () => {
    const dual = service({ ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv6', 'IPv4'], ports: [{ port: 80 }] });
    expect(admitService(dual, undefined, none())).to.deep.equal([]);
    expect(spec(dual).ipFamilies).to.deep.equal(['IPv6', 'IPv4']);
    expect(spec(dual).clusterIPs).to.deep.equal(['fd00:10:96::1', '10.96.0.1']);
    const prefer = service({ ipFamilyPolicy: 'PreferDualStack', ports: [{ port: 80 }] });
    admitService(prefer, undefined, none());
    expect(spec(prefer).ipFamilies).to.deep.equal(['IPv4', 'IPv6']);
  });

  it('keeps headless Services without an address', () => {
    const headless = service({ clusterIP: 'None', ports: [{ port: 80 }] });
    expect(admitService(headless, undefined, none())).to.deep.equal([]);
    expect(spec(headless).clusterIPs).to.deep.equal(['None']);
  });

  it('refuses bad ports, taken or out-of-range addresses and node ports, naming each field', () => {
    const used = none();
    used.clusterIPs.add('10.96.0.5');
    used.nodePorts.add(30080);
    const bad = service({
      type: 'NodePort',
      clusterIP: '10.96.0.5',
      ports: [{ port: 0, name: 'a' }, { port: 80, protocol: 'ICMP', name: 'b' }, { port: 81, nodePort: 30080, name: 'c' }, { port: 82 }],
    });
    const fields = admitService(bad, undefined, used).map((c) => `${c.field}:${c.reason}`);
    expect(fields).to.include.members([
      'spec.ports[0].port:FieldValueInvalid',
      'spec.ports[1].protocol:FieldValueNotSupported',
      'spec.ports[3].name:FieldValueRequired',
      'spec.clusterIPs[0]:FieldValueInvalid',
      'spec.ports[2].nodePort:FieldValueInvalid',
    ]);
    const outside = service({ clusterIP: '192.0.2.1', ports: [{ port: 80 }] });
    expect(admitService(outside, undefined, none())[0]?.message).to.contain('not in the valid range');
    expect(admitService(service({ type: 'Magic', ports: [{ port: 1 }] }), undefined, none())[0]?.reason).to.equal('FieldValueNotSupported');
  });

  it('keeps allocated values on update and refuses to change the address or loadBalancerClass', () => {
    const original = service({ type: 'LoadBalancer', loadBalancerClass: 'anchorlb.io/lb', ports: [{ port: 80 }] });
    admitService(original, undefined, none());
    const update = service({ type: 'LoadBalancer', loadBalancerClass: 'anchorlb.io/lb', ports: [{ port: 80 }] });
    expect(admitService(update, original, none())).to.deep.equal([]);
    expect(spec(update).clusterIP).to.equal(spec(original).clusterIP);
    expect((spec(update).ports as { nodePort: number }[])[0]?.nodePort).to.equal((spec(original).ports as { nodePort: number }[])[0]?.nodePort);
    const otherClass = service({ type: 'LoadBalancer', loadBalancerClass: 'other', ports: [{ port: 80 }] });
    expect(admitService(otherClass, original, none()).map((c) => c.field)).to.deep.equal(['spec.loadBalancerClass']);
    const moved = service({ type: 'LoadBalancer', loadBalancerClass: 'anchorlb.io/lb', clusterIP: '10.96.0.9', ports: [{ port: 80 }] });
    expect(admitService(moved, original, none()).map((c) => c.message)).to.deep.equal(['Invalid value: "10.96.0.9": may not change once set']);
    const notLb = service({ loadBalancerClass: 'x', ports: [{ port: 80 }] });
    expect(admitService(notLb, undefined, none()).map((c) => c.reason)).to.deep.equal(['FieldValueForbidden']);
  });
});
