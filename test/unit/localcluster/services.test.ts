import { expect } from 'chai';
import fc from 'fast-check';
import { parseIp, stringifyIp } from 'ip-bigint';
import { DEFAULT_SERVICE_NETWORK, ServiceAllocationIndex, admitService, type Allocations } from '../../../src/localcluster/services.ts';
import type { KubeObject } from '../../../src/localcluster/types.ts';

function service(spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec };
}

/** What admission of default/web sees when one other Service holds the addresses and node ports. */
function holding(clusterIPs: string[] = [], nodePorts: number[] = []): Allocations {
  const index = new ServiceAllocationIndex();
  index.set('default/other', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'other', namespace: 'default' }, spec: { clusterIPs, ports: nodePorts.map((nodePort) => ({ port: nodePort, nodePort })) } });
  return index.others('default/web');
}

const none = () => holding();

function spec(object: KubeObject): Record<string, unknown> {
  return object.spec as Record<string, unknown>;
}

describe('localcluster Service admission', () => {
  it('defaults a ClusterIP Service and allocates the lowest free address', () => {
    const svc = service({ ports: [{ port: 80 }] });
    const used = holding(['10.96.0.1']);
    expect(admitService(svc, undefined, used)).to.deep.equal([]);
    expect(spec(svc)).to.deep.include({ type: 'ClusterIP', sessionAffinity: 'None', internalTrafficPolicy: 'Cluster', ipFamilyPolicy: 'SingleStack', clusterIP: '10.96.0.2' });
    expect(spec(svc).ipFamilies).to.deep.equal(['IPv4']);
    expect(spec(svc).clusterIPs).to.deep.equal(['10.96.0.2']);
    expect(spec(svc).ports).to.deep.equal([{ port: 80, protocol: 'TCP', targetPort: 80 }]);
  });

  it('gives LoadBalancer Services node ports unless allocateLoadBalancerNodePorts is false', () => {
    const used = holding([], [30000]);
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
    const used = holding(['10.96.0.5'], [30080]);
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

  it('admits every sequence of Service writes and deletions exactly as a scan of all other Services would', () => {
    // The oracle: what the other Services hold, read afresh from the whole table, lowest free address by a scan from the start.
    const scanned = (table: Map<string, KubeObject>, key: string): Allocations => {
      const others = [...table].filter(([k]) => k !== key).map(([, s]) => spec(s));
      const ips = new Set(others.flatMap((s) => (s.clusterIPs as string[] | undefined) ?? []));
      const ports = new Set(others.flatMap((s) => [...((s.ports as { nodePort?: number }[] | undefined) ?? []).map((p) => p.nodePort), s.healthCheckNodePort]));
      return {
        hasClusterIP: (ip) => ips.has(ip),
        hasNodePort: (port) => ports.has(port),
        lowestFreeClusterIP: (cidr, besides) => {
          const [address = '', length = ''] = cidr.split('/');
          const { number, version } = parseIp(address);
          const hostBits = BigInt((version === 4 ? 32 : 128) - Number(length));
          const first = (number >> hostBits) << hostBits;
          for (let n = first + 1n; n < first + (1n << hostBits) - 1n && n < first + 65536n; n++) {
            const ip = stringifyIp({ number: n, version });
            if (!ips.has(ip) && !besides.includes(ip)) return ip;
          }
          return undefined;
        },
      };
    };
    const write = fc.record({
      op: fc.constant('write' as const),
      name: fc.integer({ min: 0, max: 5 }),
      type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer'),
      families: fc.constantFrom(['IPv4'], ['IPv6'], ['IPv4', 'IPv6'], ['IPv6', 'IPv4']),
      // Asked-for addresses and ports among the first few, so they meet the allocated ones.
      clusterIP: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
      nodePort: fc.option(fc.integer({ min: 30000, max: 30005 }), { nil: undefined }),
      local: fc.boolean(),
    });
    const remove = fc.record({ op: fc.constant('delete' as const), name: fc.integer({ min: 0, max: 5 }) });
    fc.assert(
      fc.property(fc.array(fc.oneof(write, remove), { maxLength: 40 }), (steps) => {
        const table = new Map<string, KubeObject>();
        const index = new ServiceAllocationIndex();
        for (const step of steps) {
          const key = `default/svc-${step.name}`;
          if (step.op === 'delete') {
            table.delete(key);
            index.set(key, undefined);
            continue;
          }
          const requested = step.clusterIP === undefined ? undefined : step.families[0] === 'IPv4' ? `10.96.0.${step.clusterIP}` : `fd00:10:96::${step.clusterIP}`;
          const body = (): KubeObject => ({
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: `svc-${step.name}`, namespace: 'default' },
            spec: {
              type: step.type,
              ipFamilies: step.families,
              ipFamilyPolicy: step.families.length === 2 ? 'RequireDualStack' : 'SingleStack',
              ...(requested === undefined ? {} : { clusterIP: requested }),
              ...(step.type === 'LoadBalancer' && step.local ? { externalTrafficPolicy: 'Local' } : {}),
              ports: [{ port: 80, ...(step.nodePort === undefined || step.type === 'ClusterIP' ? {} : { nodePort: step.nodePort }) }],
            },
          });
          const [indexed, reference] = [body(), body()];
          const old = table.get(key);
          const causes = admitService(indexed, old, index.others(key), DEFAULT_SERVICE_NETWORK);
          expect(causes).to.deep.equal(admitService(reference, old, scanned(table, key), DEFAULT_SERVICE_NETWORK));
          expect(indexed).to.deep.equal(reference);
          if (causes.length === 0) {
            table.set(key, indexed);
            index.set(key, indexed);
          }
        }
        // No two stored Services share an address or a node port.
        const ips = [...table.values()].flatMap((s) => spec(s).clusterIPs as string[]);
        expect(new Set(ips).size).to.equal(ips.length);
        const ports = [...table.values()].flatMap((s) => [...(spec(s).ports as { nodePort?: number }[]).map((p) => p.nodePort), spec(s).healthCheckNodePort]).filter((p) => p !== undefined);
        expect(new Set(ports).size).to.equal(ports.length);
      }),
      { numRuns: 300 },
    );
  });
});
