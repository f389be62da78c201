// Service defaulting and validation for the fields anchorlb relies on.
// Docs: kubernetes.io/docs/concepts/services-networking/service/ (type LoadBalancer,
// allocateLoadBalancerNodePorts, loadBalancerClass, headless services),
// kubernetes.io/docs/concepts/services-networking/dual-stack/ (ipFamilies, ipFamilyPolicy),
// kubernetes.io/docs/reference/kubernetes-api/service-resources/service-v1/ ,
// kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables .
import { isIP } from 'node:net';
import { expect } from 'chai';
import { CoreV1Api, type V1Service } from '@kubernetes/client-node';
import { TABLE_ACCEPT, field, useConformanceTarget, useTestNamespace, type RawResponse } from './support.ts';

const UNCLAIMED_CLASS = 'conformance.anchorlb.io/unclaimed';

describe('conformance: services', function () {
  const target = useConformanceTarget();
  const namespace = useTestNamespace(target, 'conf-svc');
  const core = () => target.api(CoreV1Api);
  const servicesPath = () => `/api/v1/namespaces/${namespace.name}/services`;

  // LoadBalancer services carry a class no controller claims, so a load balancer running in a
  // real cluster leaves their status alone.
  function service(name: string, spec: V1Service['spec'] = {}): V1Service {
    const unclaimed = spec.type === 'LoadBalancer' ? { loadBalancerClass: UNCLAIMED_CLASS } : {};
    return { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: { app: name }, ports: [{ port: 80 }], ...unclaimed, ...spec } };
  }

  function causeFields(response: RawResponse): string[] {
    expect(response.status, response.text).to.equal(422);
    expect(field(response.json, 'reason')).to.equal('Invalid');
    return ((field(response.json, 'details', 'causes') as unknown[] | undefined) ?? []).map((cause) => String(field(cause, 'field')));
  }

  // ClusterIP defaulting: an IP from the service CIDR, clusterIPs mirrors it, single-stack
  // by default, port protocol TCP and targetPort = port, sessionAffinity None.
  it('defaults a ClusterIP service: clusterIP(s), ipFamilies, ipFamilyPolicy, protocol, targetPort', async () => {
    const created = await core().createNamespacedService({ namespace: namespace.name, body: service('defaults') });
    const spec = created.spec;
    expect(spec?.type).to.equal('ClusterIP');
    expect(isIP(spec?.clusterIP ?? '')).to.be.oneOf([4, 6]);
    expect(spec?.clusterIPs).to.deep.equal([spec?.clusterIP]);
    expect(spec?.ipFamilyPolicy).to.equal('SingleStack');
    expect(spec?.ipFamilies).to.have.lengthOf(1);
    expect(spec?.ipFamilies?.[0]).to.equal(isIP(spec?.clusterIP ?? '') === 6 ? 'IPv6' : 'IPv4');
    expect(spec?.sessionAffinity).to.equal('None');
    expect(spec?.ports?.[0]?.protocol).to.equal('TCP');
    expect(spec?.ports?.[0]?.targetPort).to.equal(80);
  });

  it('gives different services different cluster IPs', async () => {
    const first = await core().createNamespacedService({ namespace: namespace.name, body: service('unique-1') });
    const second = await core().createNamespacedService({ namespace: namespace.name, body: service('unique-2') });
    expect(first.spec?.clusterIP).to.not.equal(second.spec?.clusterIP);
  });

  it('keeps clusterIP None for a headless service', async () => {
    const created = await core().createNamespacedService({ namespace: namespace.name, body: service('headless', { clusterIP: 'None' }) });
    expect(created.spec?.clusterIP).to.equal('None');
    expect(created.spec?.clusterIPs).to.deep.equal(['None']);
  });

  // PreferDualStack: as many families as the cluster has, one cluster IP per family.
  it('gives a PreferDualStack service one cluster IP per family', async () => {
    const created = await core().createNamespacedService({ namespace: namespace.name, body: service('prefer-dual', { ipFamilyPolicy: 'PreferDualStack' }) });
    const families = created.spec?.ipFamilies ?? [];
    expect(families.length).to.be.within(1, 2);
    expect(created.spec?.clusterIPs).to.have.lengthOf(families.length);
    created.spec?.clusterIPs?.forEach((ip, index) => expect(families[index]).to.equal(isIP(ip) === 6 ? 'IPv6' : 'IPv4'));
  });

  // type LoadBalancer allocates a nodePort per port (30000-32767 by default) and defaults
  // allocateLoadBalancerNodePorts to true and externalTrafficPolicy to Cluster.
  it('allocates node ports for a LoadBalancer service by default', async () => {
    const created = await core().createNamespacedService({
      namespace: namespace.name,
      body: service('lb', { type: 'LoadBalancer', ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] }),
    });
    expect(created.spec?.allocateLoadBalancerNodePorts).to.equal(true);
    expect(created.spec?.externalTrafficPolicy).to.equal('Cluster');
    const nodePorts = created.spec?.ports?.map((port) => port.nodePort) ?? [];
    expect(nodePorts).to.have.lengthOf(2);
    for (const nodePort of nodePorts) expect(nodePort).to.be.within(30000, 32767);
    expect(new Set(nodePorts).size).to.equal(2);
  });

  it('allocates no node ports when allocateLoadBalancerNodePorts is false', async () => {
    const created = await core().createNamespacedService({
      namespace: namespace.name,
      body: service('lb-no-nodeports', { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false }),
    });
    expect(created.spec?.ports?.[0]?.nodePort).to.equal(undefined);
  });

  // loadBalancerClass: only for type LoadBalancer, immutable once set.
  it('refuses to change loadBalancerClass once set', async () => {
    const created = await core().createNamespacedService({
      namespace: namespace.name,
      body: service('lb-class', { type: 'LoadBalancer', loadBalancerClass: UNCLAIMED_CLASS }),
    });
    expect(created.spec?.loadBalancerClass).to.equal(UNCLAIMED_CLASS);
    const response = await target.raw(`${servicesPath()}/lb-class`, {
      method: 'PUT',
      body: { ...created, spec: { ...created.spec, loadBalancerClass: 'example.com/other' } },
    });
    expect(causeFields(response)).to.include('spec.loadBalancerClass');
  });

  it('rejects loadBalancerClass on a ClusterIP service', async () => {
    const response = await target.raw(servicesPath(), { method: 'POST', body: service('class-on-clusterip', { loadBalancerClass: UNCLAIMED_CLASS }) });
    expect(causeFields(response)).to.include('spec.loadBalancerClass');
  });

  it('rejects a service without ports and an out-of-range port, naming the field', async () => {
    const noPorts = await target.raw(servicesPath(), { method: 'POST', body: service('no-ports', { ports: [] }) });
    expect(causeFields(noPorts)).to.include('spec.ports');
    const badPort = await target.raw(servicesPath(), { method: 'POST', body: service('bad-port', { ports: [{ port: 70000 }] }) });
    expect(causeFields(badPort)).to.include('spec.ports[0].port');
  });

  it('refuses to change the clusterIP of an existing service', async () => {
    const created = await core().createNamespacedService({ namespace: namespace.name, body: service('fixed-ip') });
    const other = isIP(created.spec?.clusterIP ?? '') === 6 ? 'fd00::1234' : '10.255.255.254';
    const response = await target.raw(`${servicesPath()}/fixed-ip`, {
      method: 'PUT',
      body: { ...created, spec: { ...created.spec, clusterIP: other, clusterIPs: [other] } },
    });
    expect(causeFields(response).some((name) => name.startsWith('spec.clusterIP'))).to.equal(true);
  });

  // Status subresource: writes to /status change only status; writes to the object ignore status.
  it('keeps spec and status apart between the service and services/status', async () => {
    const created = await core().createNamespacedService({ namespace: namespace.name, body: service('status-split', { type: 'LoadBalancer' }) });
    const withStatus = await core().replaceNamespacedServiceStatus({
      namespace: namespace.name,
      name: 'status-split',
      body: { ...created, spec: { ...created.spec, sessionAffinity: 'ClientIP' }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } } },
    });
    expect(withStatus.status?.loadBalancer?.ingress?.[0]?.ip).to.equal('192.0.2.10');
    expect(withStatus.spec?.sessionAffinity).to.equal('None');
    const specWrite = await core().replaceNamespacedService({
      namespace: namespace.name,
      name: 'status-split',
      body: { ...withStatus, status: { loadBalancer: { ingress: [{ ip: '192.0.2.99' }] } } },
    });
    expect(specWrite.status?.loadBalancer?.ingress?.[0]?.ip).to.equal('192.0.2.10');
  });

  // Server-side printing of built-ins: `kubectl get services` shows these columns (priority 0);
  // EXTERNAL-IP is <pending> until status.loadBalancer has an ingress, then the ingress IPs.
  it('prints services as a Table with the standard columns', async () => {
    await core().createNamespacedService({
      namespace: namespace.name,
      body: service('printed', { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] }),
    });
    const tablePath = `${servicesPath()}?fieldSelector=metadata.name%3Dprinted`;
    const table = await target.raw(tablePath, { headers: { Accept: TABLE_ACCEPT } });
    expect(field(table.json, 'kind')).to.equal('Table');
    const definitions = field(table.json, 'columnDefinitions') as unknown[];
    const visible = definitions.filter((column) => field(column, 'priority') === 0 || field(column, 'priority') === undefined);
    expect(visible.map((column) => field(column, 'name'))).to.deep.equal(['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age']);
    const cells = field(table.json, 'rows', 0, 'cells') as unknown[];
    expect(cells[0]).to.equal('printed');
    expect(cells[1]).to.equal('LoadBalancer');
    expect(cells[3]).to.equal('<pending>');
    expect(cells[4]).to.match(/^80:3\d{4}\/TCP$/);
    await target.raw(`${servicesPath()}/printed/status`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.50' }] } } },
    });
    const after = await target.raw(tablePath, { headers: { Accept: TABLE_ACCEPT } });
    expect(field(after.json, 'rows', 0, 'cells', 3)).to.equal('192.0.2.50');
  });

  it('rejects a load-balancer ingress that is not an IP', async () => {
    await core().createNamespacedService({ namespace: namespace.name, body: service('bad-ingress', { type: 'LoadBalancer' }) });
    const response = await target.raw(`${servicesPath()}/bad-ingress/status`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: { status: { loadBalancer: { ingress: [{ ip: 'not-an-ip' }] } } },
    });
    expect(causeFields(response)).to.include('status.loadBalancer.ingress[0].ip');
  });
});
