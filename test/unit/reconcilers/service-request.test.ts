import { expect } from 'chai';
import type { V1Service } from '@kubernetes/client-node';
import { currentIngressIPs, isOurs, poolsInPrecedence, poolToSpec, serviceToRequest } from '../../../src/reconcilers/service-request.ts';
import { poolStatusPatch } from '../../../src/reconcilers/pool-status.ts';
import { Allocator } from '../../../src/allocator/allocator.ts';
import type { IPAddressPool } from '../../../src/api/index.ts';

const service = (extra: { annotations?: Record<string, string>; spec?: V1Service['spec'] } = {}): V1Service => ({
  metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' }, annotations: extra.annotations ?? {} },
  spec: { type: 'LoadBalancer', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP' }], selector: { app: 'web' }, ...extra.spec },
});
const pool = (name: string, created: string, spec: Partial<IPAddressPool['spec']> = {}): IPAddressPool => ({
  apiVersion: 'anchorlb.io/v1beta1',
  kind: 'IPAddressPool',
  metadata: { name, namespace: 'anchorlb-system', creationTimestamp: created, generation: 2 },
  spec: { addresses: ['192.0.2.0/28'], ...spec },
});

describe('reconcilers: Services and pools to allocator data', () => {
  it('is strict about loadBalancerClass: only the configured class, or no class when none is configured', () => {
    expect(isOurs(service(), undefined)).to.equal(true);
    expect(isOurs(service({ spec: { loadBalancerClass: 'anchorlb.io/lb' } }), undefined)).to.equal(false);
    expect(isOurs(service({ spec: { loadBalancerClass: 'anchorlb.io/lb' } }), 'anchorlb.io/lb')).to.equal(true);
    expect(isOurs(service(), 'anchorlb.io/lb')).to.equal(false);
  });

  it('reads requested IPs, pool and sharing key from anchorlb.io annotations, and the Service shape', () => {
    const translated = serviceToRequest(
      service({ annotations: { 'anchorlb.io/loadBalancerIPs': '192.0.2.5, 2001:db8::5', 'anchorlb.io/address-pool': 'public', 'anchorlb.io/allow-shared-ip': 'dns' }, spec: { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'], externalTrafficPolicy: 'Local' } }),
      { team: 'a' },
    );
    expect(translated).to.deep.include({ ok: true });
    if (!translated.ok) return;
    expect(translated.request).to.deep.include({
      key: 'shop/web',
      namespace: 'shop',
      requestedIPs: ['192.0.2.5', '2001:db8::5'],
      requestedPool: 'public',
      sharingKey: 'dns',
      ipFamilyPolicy: 'RequireDualStack',
      externalTrafficPolicy: 'Local',
    });
    expect(translated.request.ipFamilies).to.deep.equal(['IPv4', 'IPv6']);
    expect(translated.request.namespaceLabels).to.deep.equal({ team: 'a' });
    expect(translated.request.ports).to.deep.equal([{ port: 80, protocol: 'TCP' }]);
  });

  it('honours spec.loadBalancerIP like one requested IP, and refuses it together with the annotation, naming both values', () => {
    const single = serviceToRequest(service({ spec: { loadBalancerIP: '192.0.2.9' } }), {});
    expect(single.ok && single.request.requestedIPs).to.deep.equal(['192.0.2.9']);
    const both = serviceToRequest(service({ annotations: { 'anchorlb.io/loadBalancerIPs': '192.0.2.5' }, spec: { loadBalancerIP: '192.0.2.9' } }), {});
    expect(both.ok).to.equal(false);
    if (both.ok) return;
    expect(both.field).to.equal('metadata.annotations[anchorlb.io/loadBalancerIPs]');
    expect(both.message).to.contain('192.0.2.9');
  });

  it('reads the addresses a Service holds from its status', () => {
    const held = service();
    held.status = { loadBalancer: { ingress: [{ ip: '192.0.2.1' }, { hostname: 'lb.example' }, { ip: '2001:db8::1' }] } };
    expect(currentIngressIPs(held)).to.deep.equal(['192.0.2.1', '2001:db8::1']);
  });

  it('orders pools by creation then name, and turns selectors into predicates', () => {
    const older = pool('b', '2026-01-01T00:00:00Z');
    const newer = pool('a', '2026-02-01T00:00:00Z', { serviceAllocation: { priority: 5, namespaces: ['shop'], serviceSelectors: [{ matchLabels: { app: 'web' } }] } });
    expect(poolsInPrecedence([newer, older]).map((p) => p.metadata?.name)).to.deep.equal(['b', 'a']);
    const spec = poolToSpec(newer);
    expect(spec).to.deep.include({ name: 'a', autoAssign: true, avoidBuggyIPs: false, priority: 5, namespaces: ['shop'] });
    expect(spec.serviceSelectors?.[0]?.({ app: 'web' })).to.equal(true);
    expect(spec.serviceSelectors?.[0]?.({ app: 'db' })).to.equal(false);
  });
});

describe('reconcilers: pools the API rules refuse', () => {
  it('a pool breaking a single-object rule is refused with the field and value; a pool in force keeps its last good spec', () => {
    const good = pool('p', '2026-01-01T00:00:00Z');
    const bad = pool('p', '2026-01-01T00:00:00Z', { serviceAllocation: { serviceSelectors: [{ matchExpressions: [{ key: 'app', operator: 'In', values: [] }] }] } });
    expect(poolToSpec(bad).invalid).to.equal('pool p: spec.serviceAllocation.serviceSelectors[0].matchExpressions[0].values: []: operator In needs at least one value');
    const allocator = new Allocator();
    allocator.setPools([poolToSpec(good)]);
    const held = allocator.assign({ key: 'shop/web', namespace: 'shop', ipFamilies: ['IPv4'] });
    const { refused, released } = allocator.setPools([poolToSpec(bad)]);
    expect(released).to.deep.equal([]);
    expect(refused.map(({ reason, stale }) => ({ reason, stale }))).to.deep.equal([{ reason: 'InvalidSpec', stale: true }]);
    expect(allocator.assignmentOf('shop/web')?.ips).to.deep.equal(held.ok ? held.ips : []);
  });
});

describe('reconcilers: pool status', () => {
  const counts = {
    IPv4: { total: 16n, inUse: 3n, available: 13n },
    IPv6: { total: 2n ** 64n, inUse: 1n, available: 2n ** 64n - 1n },
  };

  it('writes counts per family and an accepted condition, capping counts no number can hold', () => {
    const patch = poolStatusPatch(pool('p', '2026-01-01T00:00:00Z'), counts, undefined, '2026-11-25T00:00:00Z');
    expect(patch?.status).to.deep.include({ assignedIPv4: 3, availableIPv4: 13, totalIPv4: 16, assignedIPv6: 1, totalIPv6: Number.MAX_SAFE_INTEGER, observedGeneration: 2 });
    expect(patch?.status.conditions).to.deep.equal([
      { type: 'Refused', status: 'False', reason: 'Accepted', message: 'the pool is in use', observedGeneration: 2, lastTransitionTime: '2026-11-25T00:00:00Z' },
      { type: 'Stale', status: 'False', reason: 'Current', message: 'the current spec is in force', observedGeneration: 2, lastTransitionTime: '2026-11-25T00:00:00Z' },
    ]);
  });

  it('writes nothing when the status already says so', () => {
    const first = poolStatusPatch(pool('p', '2026-01-01T00:00:00Z'), counts, undefined, '2026-11-25T00:00:00Z')!;
    const written = { ...pool('p', '2026-01-01T00:00:00Z'), status: first.status };
    expect(poolStatusPatch(written, counts, undefined, '2026-11-26T00:00:00Z')).to.equal(undefined);
  });

  it('says why a pool is refused, naming the earlier pool it overlaps', () => {
    const refusal = { pool: 'late', reason: 'Overlap', message: 'pool late: 192.0.2.0-192.0.2.15 overlaps 192.0.2.0-192.0.2.255 of pool early, which came first', stale: false } as const;
    const patch = poolStatusPatch(pool('late', '2026-02-01T00:00:00Z'), undefined, refusal, 'now');
    expect(patch?.status.conditions?.[0]).to.deep.include({ type: 'Refused', status: 'True', reason: 'Overlap' });
    expect(patch?.status.conditions?.[0]?.message).to.contain('early');
    expect(patch?.status.conditions?.[1]).to.deep.include({ type: 'Stale', status: 'False', reason: 'NotInForce' });
  });

  it('tells a parse error from an overlap, and a refused edit of a pool in force as stale, naming the generation serving', () => {
    const refusal = { pool: 'p', reason: 'InvalidSpec', message: 'pool p: spec.addresses[0]: "192.0.2.0/33": prefix length must be 0 to 32 for IPv4', stale: true } as const;
    const patch = poolStatusPatch(pool('p', '2026-01-01T00:00:00Z'), counts, refusal, 'now', 1);
    expect(patch?.status.conditions?.map(({ type, status, reason }) => ({ type, status, reason }))).to.deep.equal([
      { type: 'Refused', status: 'True', reason: 'InvalidSpec' },
      { type: 'Stale', status: 'True', reason: 'InvalidSpec' },
    ]);
    expect(patch?.status.conditions?.[1]?.message).to.equal(`this edit is refused and the spec of generation 1 stays in force: ${refusal.message}`);
    // The counts are those of the spec in force: nothing was released.
    expect(patch?.status.assignedIPv4).to.equal(3);
  });
});
