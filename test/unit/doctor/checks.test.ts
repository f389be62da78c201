import { expect } from 'chai';
import { diagnose, formatFindings, type CheckName, type DoctorSnapshot, type Finding, type Workload } from '../../../src/doctor/checks.ts';

function snapshot(extra: Partial<DoctorSnapshot> = {}): DoctorSnapshot {
  return {
    installation: { namespace: 'anchorlb-system', l2: true },
    workloads: [],
    configMaps: [],
    nodes: [{ metadata: { name: 'worker-1', labels: { 'kubernetes.io/hostname': 'worker-1', rack: 'a' } } }],
    services: [],
    pools: [{ apiVersion: 'anchorlb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'public', namespace: 'anchorlb-system' }, spec: { addresses: ['192.0.2.0/28'] } }],
    l2Advertisements: [{ apiVersion: 'anchorlb.io/v1beta1', kind: 'L2Advertisement', metadata: { name: 'all', namespace: 'anchorlb-system' } }],
    bgpAdvertisements: [],
    bgpPeers: [],
    metallbPools: [],
    ciliumPools: [],
    ...extra,
  };
}

function of(findings: Finding[], check: CheckName): Finding[] {
  return findings.filter((finding) => finding.check === check);
}

function workload(kind: Workload['kind'], name: string, image: string, extra: { env?: Record<string, string>; args?: string[] } = {}): Workload {
  return {
    kind,
    metadata: { name, namespace: 'kube-system' },
    spec: { template: { spec: { containers: [{ image, args: extra.args, env: Object.entries(extra.env ?? {}).map(([name, value]) => ({ name, value })) }] } } },
  };
}

describe('anchorlb doctor checks', () => {
  it('finds nothing in a clean installation', () => {
    expect(diagnose(snapshot())).to.deep.equal([]);
    expect(formatFindings([])).to.equal('No problems found.\n');
  });

  it('reports refused and stale objects with the reason the controller wrote', () => {
    const pool = (name: string, conditions: Array<{ type: string; status: 'True' | 'False'; reason: string; message: string }>) => ({
      apiVersion: 'anchorlb.io/v1beta1' as const,
      kind: 'IPAddressPool' as const,
      metadata: { name, namespace: 'anchorlb-system' },
      spec: { addresses: ['198.51.100.0/28'] as [string] },
      status: { conditions },
    });
    const findings = of(
      diagnose(
        snapshot({
          pools: [
            pool('fine', [{ type: 'Refused', status: 'False', reason: 'Accepted', message: 'the pool is in use' }]),
            pool('late', [{ type: 'Refused', status: 'True', reason: 'Overlap', message: 'pool late: 198.51.100.0-198.51.100.15 overlaps …' }]),
            pool('typo', [
              { type: 'Refused', status: 'True', reason: 'InvalidSpec', message: 'pool typo: spec.addresses[0]: "198.51.100.0/33": …' },
              { type: 'Stale', status: 'True', reason: 'InvalidSpec', message: 'this edit is refused and the spec of generation 1 stays in force: …' },
            ]),
          ],
        }),
      ),
      'refused-object',
    );
    expect(findings.map(({ severity, object, problem }) => ({ severity, object, problem }))).to.deep.equal([
      { severity: 'error', object: 'IPAddressPool anchorlb-system/late', problem: 'Refused (Overlap): pool late: 198.51.100.0-198.51.100.15 overlaps …' },
      { severity: 'warning', object: 'IPAddressPool anchorlb-system/typo', problem: 'Stale (InvalidSpec): this edit is refused and the spec of generation 1 stays in force: …' },
    ]);
    expect(formatFindings(findings)).to.not.equal('No problems found.\n');
  });

  describe('rival load balancers', () => {
    it('reports kube-vip with Service handling on, and tells how to make it class-only', () => {
      const findings = of(diagnose(snapshot({ workloads: [workload('DaemonSet', 'kube-vip-ds', 'ghcr.io/kube-vip/kube-vip:v0.8.0', { env: { svc_enable: 'true', cp_enable: 'true' } })] })), 'rival-load-balancer');
      expect(findings).to.have.length(1);
      expect(findings[0]).to.include({ severity: 'error', object: 'DaemonSet kube-system/kube-vip-ds' });
      expect(findings[0]?.fix).to.contain('lb_class_only=true');
    });

    it('leaves kube-vip alone when it only holds the control-plane address or handles only its own class', () => {
      const controlPlaneOnly = workload('DaemonSet', 'kube-vip-ds', 'ghcr.io/kube-vip/kube-vip:v0.8.0', { env: { cp_enable: 'true', svc_enable: 'false' } });
      const classOnly = workload('DaemonSet', 'kube-vip-svc', 'ghcr.io/kube-vip/kube-vip:v0.8.0', { env: { svc_enable: 'true', lb_class_only: 'true' } });
      expect(diagnose(snapshot({ workloads: [controlPlaneOnly, classOnly] }))).to.deep.equal([]);
    });

    it('reports a kube-vip whose class is anchorlb\'s own class', () => {
      const classOnly = workload('DaemonSet', 'kube-vip-svc', 'ghcr.io/kube-vip/kube-vip:v0.8.0', { args: ['manager', '--services', '--lbClassOnly', '--lbClassName=lb.example/shared'] });
      const findings = diagnose(snapshot({ installation: { namespace: 'anchorlb-system', l2: true, loadBalancerClass: 'lb.example/shared' }, workloads: [classOnly] }));
      expect(of(findings, 'rival-load-balancer')[0]?.problem).to.contain('class lb.example/shared');
    });

    it('reports k3s ServiceLB by its svclb DaemonSets or an enabled k3s server', () => {
      const svclb = diagnose(snapshot({ workloads: [workload('DaemonSet', 'svclb-traefik-1a2b', 'rancher/klipper-lb:v0.4.4')] }));
      expect(of(svclb, 'rival-load-balancer')[0]?.fix).to.contain('--disable=servicelb');
      const server = { metadata: { name: 'k3s-1', annotations: { 'k3s.io/node-args': '["server","--disable","traefik"]' } } };
      expect(of(diagnose(snapshot({ nodes: [server] })), 'rival-load-balancer')[0]?.object).to.equal('Node k3s-1');
      for (const args of ['["server","--disable","servicelb"]', '["server","--disable=traefik,servicelb"]']) {
        const disabled = { metadata: { name: 'k3s-1', annotations: { 'k3s.io/node-args': args } } };
        expect(of(diagnose(snapshot({ nodes: [disabled] })), 'rival-load-balancer'), args).to.deep.equal([]);
      }
      const namespaced = { metadata: { name: 'k3s-1', annotations: { 'k3s.io/node-args': '["server","--servicelb-namespace","lb"]' } } };
      expect(of(diagnose(snapshot({ nodes: [namespaced] })), 'rival-load-balancer')).to.have.length(1);
    });

    it('reports MetalLB unless it runs with a class of its own', () => {
      const controller = workload('Deployment', 'controller', 'quay.io/metallb/controller:v0.14.8');
      expect(of(diagnose(snapshot({ workloads: [controller] })), 'rival-load-balancer')[0]?.fix).to.contain('anchorlb convert');
      const classed = workload('Deployment', 'controller', 'quay.io/metallb/controller:v0.14.8', { args: ['--lb-class=metallb.io/metallb'] });
      expect(of(diagnose(snapshot({ workloads: [classed] })), 'rival-load-balancer')).to.deep.equal([]);
    });

    it('reports Cilium LB-IPAM once a pool exists and requireLBClass is off', () => {
      const pool = { metadata: { name: 'blue' }, spec: { blocks: [{ cidr: '198.51.100.0/24' }] } };
      const findings = of(diagnose(snapshot({ ciliumPools: [pool] })), 'rival-load-balancer');
      expect(findings[0]?.fix).to.contain('lbipam-require-lb-class');
      const required = { metadata: { name: 'cilium-config', namespace: 'kube-system' }, data: { 'lbipam-require-lb-class': 'true' } };
      expect(of(diagnose(snapshot({ ciliumPools: [pool], configMaps: [required] })), 'rival-load-balancer')).to.deep.equal([]);
      expect(of(diagnose(snapshot()), 'rival-load-balancer')).to.deep.equal([]);
    });
  });

  it('reports our ranges that overlap another controller\'s, with the shared part', () => {
    const findings = of(
      diagnose(
        snapshot({
          metallbPools: [{ metadata: { name: 'old', namespace: 'metallb-system' }, spec: { addresses: ['192.0.2.8-192.0.2.20'] } }],
          ciliumPools: [{ metadata: { name: 'off' }, spec: { disabled: true, blocks: [{ cidr: '192.0.2.0/24' }] } }],
          configMaps: [{ metadata: { name: 'kubevip', namespace: 'kube-system' }, data: { 'range-global': '203.0.113.1-203.0.113.9, 192.0.2.15-192.0.2.15' } }],
        }),
      ),
      'overlapping-ranges',
    );
    expect(findings.map((finding) => finding.problem)).to.deep.equal([
      '192.0.2.0/28 overlaps 192.0.2.8-192.0.2.20 of IPAddressPool.metallb.io metallb-system/old: two controllers can hand out the same address (192.0.2.8-192.0.2.15)',
      '192.0.2.0/28 overlaps 192.0.2.15-192.0.2.15 of ConfigMap kube-system/kubevip (range-global): two controllers can hand out the same address (192.0.2.15-192.0.2.15)',
    ]);
    expect(findings[0]?.object).to.equal('IPAddressPool anchorlb-system/public');
  });

  it('reports kube-proxy in IPVS mode without strictARP when L2 mode runs', () => {
    const kubeProxy = (config: string) => ({ metadata: { name: 'kube-proxy', namespace: 'kube-system' }, data: { 'config.conf': config } });
    const findings = of(diagnose(snapshot({ configMaps: [kubeProxy('mode: ipvs\nipvs:\n  strictARP: false\n')] })), 'ipvs-strict-arp');
    expect(findings[0]?.fix).to.contain('strictARP: true');
    expect(diagnose(snapshot({ configMaps: [kubeProxy('mode: ipvs\nipvs:\n  strictARP: true\n')] }))).to.deep.equal([]);
    expect(diagnose(snapshot({ configMaps: [kubeProxy('mode: iptables\n')] }))).to.deep.equal([]);
    expect(diagnose(snapshot({ installation: { namespace: 'anchorlb-system', l2: false }, configMaps: [kubeProxy('mode: ipvs\n')] }))).to.deep.equal([]);
  });

  it('reports Services whose status another controller keeps rewriting, or holds an address from no pool of ours', () => {
    const fought = {
      metadata: { name: 'web', namespace: 'shop' },
      spec: { type: 'LoadBalancer' },
      status: { conditions: [{ type: 'anchorlb.io/StatusConflict', status: 'True', message: 'another controller keeps writing' }] },
    };
    const foreign = { metadata: { name: 'api', namespace: 'shop' }, spec: { type: 'LoadBalancer' }, status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }, { ip: '192.0.2.3' }] } } };
    const otherClass = { metadata: { name: 'db', namespace: 'shop' }, spec: { type: 'LoadBalancer', loadBalancerClass: 'other' }, status: { loadBalancer: { ingress: [{ ip: '203.0.113.8' }] } } };
    const findings = of(diagnose(snapshot({ services: [fought, foreign, otherClass] })), 'status-conflict');
    expect(findings.map((finding) => [finding.object, finding.severity])).to.deep.equal([
      ['Service shop/web', 'error'],
      ['Service shop/api', 'warning'],
    ]);
    expect(findings[1]?.problem).to.contain('203.0.113.7').and.not.contain('192.0.2.3');
  });

  it('reports BGP peers no node matches', () => {
    const peer = (name: string, rack: string) => ({
      apiVersion: 'anchorlb.io/v1beta1' as const,
      kind: 'BGPPeer' as const,
      metadata: { name, namespace: 'anchorlb-system' },
      spec: { myASN: 64512, peerASN: 64513, peerAddress: '198.51.100.1', nodeSelectors: [{ matchLabels: { rack } }] },
    });
    const findings = of(diagnose(snapshot({ bgpPeers: [peer('tor-a', 'a'), peer('tor-b', 'b')] })), 'peer-without-node');
    expect(findings.map((finding) => finding.object)).to.deep.equal(['BGPPeer anchorlb-system/tor-b']);
    expect(findings[0]?.fix).to.contain('nodeSelectors');
  });

  it('reports pools no advertisement selects, by name or by label', () => {
    const pools = [
      { apiVersion: 'anchorlb.io/v1beta1' as const, kind: 'IPAddressPool' as const, metadata: { name: 'public', namespace: 'anchorlb-system' }, spec: { addresses: ['192.0.2.0/28'] as [string] } },
      { apiVersion: 'anchorlb.io/v1beta1' as const, kind: 'IPAddressPool' as const, metadata: { name: 'labelled', namespace: 'anchorlb-system', labels: { tier: 'edge' } }, spec: { addresses: ['192.0.2.64/28'] as [string] } },
      { apiVersion: 'anchorlb.io/v1beta1' as const, kind: 'IPAddressPool' as const, metadata: { name: 'forgotten', namespace: 'anchorlb-system' }, spec: { addresses: ['192.0.2.128/28'] as [string] } },
    ];
    const findings = of(
      diagnose(
        snapshot({
          pools,
          l2Advertisements: [{ apiVersion: 'anchorlb.io/v1beta1', kind: 'L2Advertisement', metadata: { name: 'named', namespace: 'anchorlb-system' }, spec: { ipAddressPools: ['public'] } }],
          bgpAdvertisements: [{ apiVersion: 'anchorlb.io/v1beta1', kind: 'BGPAdvertisement', metadata: { name: 'edge', namespace: 'anchorlb-system' }, spec: { ipAddressPoolSelectors: [{ matchLabels: { tier: 'edge' } }] } }],
        }),
      ),
      'unadvertised-pool',
    );
    expect(findings.map((finding) => finding.object)).to.deep.equal(['IPAddressPool anchorlb-system/forgotten']);
    expect(findings[0]?.fix).to.contain('ipAddressPools: [forgotten]');
  });

  it('formats each finding with its check, object, problem and fix', () => {
    const text = formatFindings(diagnose(snapshot({ workloads: [workload('Deployment', 'controller', 'quay.io/metallb/controller:v0.14.8')] })));
    expect(text).to.match(/^ERROR \[rival-load-balancer\] Deployment kube-system\/controller\n {2}MetalLB acts on .*\n {2}fix: /);
  });
});
