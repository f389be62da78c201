import { expect } from 'chai';
import { Allocator, type AssignResult, type PoolSpec, type ServiceRequest } from '../../../src/allocator/index.ts';

function service(name: string, extra: Partial<ServiceRequest> = {}): ServiceRequest {
  return { key: `default/${name}`, namespace: 'default', ipFamilies: ['IPv4'], ...extra };
}

function withPools(...pools: PoolSpec[]): Allocator {
  const allocator = new Allocator();
  const { refused } = allocator.setPools(pools);
  expect(refused).to.deep.equal([]);
  return allocator;
}

function ips(result: AssignResult): string[] {
  if (!result.ok) throw new Error(`expected an assignment, got ${result.failure.reason}: ${result.failure.message}`);
  return result.ips;
}

function failure(result: AssignResult): { reason: string; message: string; conflictWith?: string } {
  if (result.ok) throw new Error(`expected a failure, got ${result.ips.join(', ')}`);
  return result.failure;
}

const tcp = (port: number) => ({ port, protocol: 'TCP' });

describe('Allocator', () => {
  describe('pools', () => {
    it('hands out the lowest free address of CIDRs and a-b ranges in both families', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.10-192.0.2.11', '2001:db8::/126'] });
      expect(ips(allocator.assign(service('a')))).to.deep.equal(['192.0.2.10']);
      expect(ips(allocator.assign(service('b')))).to.deep.equal(['192.0.2.11']);
      expect(ips(allocator.assign(service('c', { ipFamilies: ['IPv6'] })))).to.deep.equal(['2001:db8::']);
      expect(failure(allocator.assign(service('d')))).to.deep.include({
        reason: 'Exhausted',
        message: 'no available IPv4 address in pool p',
      });
    });

    it('reports counts per family, exact for an IPv6 /64', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/28', '2001:db8::/64'] });
      allocator.assign(service('a'));
      allocator.assign(service('b', { ipFamilies: ['IPv6'] }));
      expect(allocator.poolStats().get('p')).to.deep.equal({
        IPv4: { total: 16n, inUse: 1n, available: 15n },
        IPv6: { total: 1n << 64n, inUse: 1n, available: (1n << 64n) - 1n },
      });
    });

    it('avoidBuggyIPs skips .0 and .255, refuses them when asked for, and leaves them out of the counts', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.254-192.0.3.2'], avoidBuggyIPs: true });
      expect(allocator.poolStats().get('p')?.IPv4.total).to.equal(3n);
      expect(ips(allocator.assign(service('a')))).to.deep.equal(['192.0.2.254']);
      expect(ips(allocator.assign(service('b')))).to.deep.equal(['192.0.3.1']);
      expect(failure(allocator.assign(service('c', { requestedIPs: ['192.0.3.0'] })))).to.deep.include({
        reason: 'NotInAnyPool',
        message: '192.0.3.0 is excluded by pool p (avoidBuggyIPs)',
      });
      expect(ips(allocator.assign(service('d')))).to.deep.equal(['192.0.3.2']);
      expect(failure(allocator.assign(service('e'))).reason).to.equal('Exhausted');
      allocator.setPools([{ name: 'big', addresses: ['198.18.0.0/16'], avoidBuggyIPs: true }]);
      expect(allocator.poolStats().get('big')?.IPv4.total).to.equal(65536n - 512n);
    });

    it('uses an autoAssign=false pool only when asked for by name or address', () => {
      const allocator = withPools({ name: 'manual', addresses: ['192.0.2.1/32'], autoAssign: false });
      expect(failure(allocator.assign(service('a'))).reason).to.equal('NoEligiblePool');
      expect(ips(allocator.assign(service('b', { requestedPool: 'manual' })))).to.deep.equal(['192.0.2.1']);
      allocator.release('default/b', 'ServiceDeleted');
      expect(ips(allocator.assign(service('c', { requestedIPs: ['192.0.2.1'] })))).to.deep.equal(['192.0.2.1']);
    });

    it('tries pools by priority (lower first, unset last), restricted pools before open ones', () => {
      const allocator = withPools(
        { name: 'open-unset', addresses: ['192.0.2.1/32'] },
        { name: 'open-2', addresses: ['192.0.2.2/32'], priority: 2 },
        { name: 'open-1', addresses: ['192.0.2.3/32'], priority: 1 },
        { name: 'mine', addresses: ['192.0.2.4/32'], priority: 9, namespaces: ['default'] },
      );
      const pools = ['a', 'b', 'c', 'd'].map((name) => {
        const result = allocator.assign(service(name));
        return result.ok ? result.pool : result.failure.reason;
      });
      expect(pools).to.deep.equal(['mine', 'open-1', 'open-2', 'open-unset']);
    });

    it('honours namespaces, namespaceSelectors and serviceSelectors', () => {
      const allocator = withPools(
        { name: 'by-name', addresses: ['192.0.2.1/32'], namespaces: ['team-a'] },
        { name: 'by-label', addresses: ['192.0.2.2/32'], namespaceSelectors: [(labels) => labels.tier === 'gold'] },
        { name: 'by-service', addresses: ['192.0.2.3/32'], serviceSelectors: [(labels) => labels.app === 'web'] },
      );
      const inTeamA = { namespace: 'team-a', key: 'team-a/x' };
      expect(allocator.assign(service('x', inTeamA))).to.deep.include({ pool: 'by-name' });
      expect(
        allocator.assign(service('y', { namespace: 'other', key: 'other/y', namespaceLabels: { tier: 'gold' } })),
      ).to.deep.include({
        pool: 'by-label',
      });
      expect(allocator.assign(service('z', { namespace: 'other', key: 'other/z', labels: { app: 'web' } }))).to.deep.include({
        pool: 'by-service',
      });
      expect(failure(allocator.assign(service('w', { namespace: 'other', key: 'other/w' })))).to.deep.include({
        reason: 'NoEligiblePool',
        message: "no pool with autoAssign admits namespace other and this Service's labels",
      });
      expect(failure(allocator.assign(service('v', { requestedPool: 'by-name' })))).to.deep.include({ reason: 'PoolIneligible' });
      expect(failure(allocator.assign(service('u', { requestedIPs: ['192.0.2.1'] })))).to.deep.include({
        reason: 'PoolIneligible',
      });
    });

    it('refuses a pool overlapping an earlier one, naming it; the earlier keeps working', () => {
      const allocator = new Allocator();
      const { refused } = allocator.setPools([
        { name: 'first', addresses: ['192.0.2.0/30'] },
        { name: 'second', addresses: ['192.0.2.2-192.0.2.9', '2001:db8::/64'] },
      ]);
      expect(refused).to.deep.equal([
        {
          pool: 'second',
          reason: 'Overlap',
          message: 'pool second: 192.0.2.2-192.0.2.9 overlaps 192.0.2.0-192.0.2.3 of pool first, which came first',
          stale: false,
        },
      ]);
      expect(allocator.refusedPools()).to.deep.equal(refused);
      expect(allocator.assign(service('a'))).to.deep.include({ ok: true, pool: 'first' });
      expect(failure(allocator.assign(service('b', { requestedPool: 'second' }))).message).to.match(
        /^pool second is refused \(pool second: .*overlaps/,
      );
      expect([...allocator.poolStats().keys()]).to.deep.equal(['first']);
    });

    it('refuses pools with bad addresses, overlaps inside, duplicate names or namespaces, saying which', () => {
      const allocator = new Allocator();
      const { refused } = allocator.setPools([
        { name: 'ok', addresses: ['198.51.100.0/24'] },
        { name: 'ok', addresses: ['203.0.113.0/24'] },
        { name: 'bad', addresses: ['192.0.2.0/24', '192.0.2.300'] },
        { name: 'self', addresses: ['192.0.2.0/25', '192.0.2.100-192.0.2.200'] },
        { name: 'dup-ns', addresses: ['192.0.2.0/24'], namespaces: ['a', 'a'] },
        { name: 'empty', addresses: [] },
      ]);
      expect(refused.map((r) => r.reason)).to.deep.equal(['DuplicateName', 'InvalidSpec', 'InvalidSpec', 'InvalidSpec', 'InvalidSpec']);
      expect(refused.map((r) => r.message)).to.deep.equal([
        'pool ok: the name is used by an earlier pool',
        'pool bad: spec.addresses[1]: "192.0.2.300": not a CIDR or an a-b address range',
        'pool self: spec.addresses: 192.0.2.100-192.0.2.200 overlaps 192.0.2.0-192.0.2.127 in the same pool',
        'pool dup-ns: spec.serviceAllocation.namespaces: "a" is listed twice',
        'pool empty: spec.addresses: must list at least one range',
      ]);
    });
  });

  describe('edits of pools in force (last good spec)', () => {
    it('a typo in an edit keeps the spec in force: no Service loses its address, an overlapping refused pool stays refused', () => {
      const allocator = new Allocator();
      allocator.setPools([
        { name: 'main', addresses: ['192.0.2.0/29', '2001:db8::/125'] },
        { name: 'late', addresses: ['192.0.2.4-192.0.2.20'] },
      ]);
      const held = ['a', 'b', 'c'].map((name) => ips(allocator.assign(service(name))));
      const v6 = ips(allocator.assign(service('six', { ipFamilies: ['IPv6'] })));
      const { refused, released } = allocator.setPools([
        { name: 'main', addresses: ['192.0.2.0/29', '2001:db8::/1255'] },
        { name: 'late', addresses: ['192.0.2.4-192.0.2.20'] },
      ]);
      expect(released).to.deep.equal([]);
      expect(refused).to.deep.equal([
        { pool: 'main', reason: 'InvalidSpec', stale: true, message: 'pool main: spec.addresses[1]: "2001:db8::/1255": prefix length must be 0 to 128 for IPv6' },
        {
          pool: 'late',
          reason: 'Overlap',
          stale: false,
          message: 'pool late: 192.0.2.4-192.0.2.20 overlaps 192.0.2.0-192.0.2.7 of pool main, which came first',
        },
      ]);
      expect(['a', 'b', 'c'].map((name) => allocator.assignmentOf(`default/${name}`)?.ips)).to.deep.equal(held);
      expect(ips(allocator.assign(service('six', { ipFamilies: ['IPv6'] })))).to.deep.equal(v6);
      // A waiting Service gets the next free address of the spec in force, never one a Service holds.
      expect(ips(allocator.assign(service('d')))).to.deep.equal(['192.0.2.3']);
      // Restored: nothing moves.
      const restored = allocator.setPools([
        { name: 'main', addresses: ['192.0.2.0/29', '2001:db8::/125'] },
        { name: 'late', addresses: ['192.0.2.4-192.0.2.20'] },
      ]);
      expect(restored.released).to.deep.equal([]);
      expect(restored.refused.map((r) => r.pool)).to.deep.equal(['late']);
      expect(['a', 'b', 'c'].map((name) => allocator.assignmentOf(`default/${name}`)?.ips)).to.deep.equal(held);
    });

    it('an edit overlapping a pool in force is refused for the edited pool, which keeps serving; the other keeps its reservations', () => {
      const allocator = new Allocator();
      allocator.setPools([
        { name: 'older', addresses: ['198.51.100.0/30'] },
        { name: 'serving', addresses: ['192.0.2.0/28'], avoidBuggyIPs: true },
      ]);
      const onServing = ips(allocator.assign(service('a', { requestedPool: 'serving' })));
      const onOlder = ips(allocator.assign(service('b', { requestedPool: 'older' })));
      // `older` came first by creation time, yet its edit must not evict `serving`.
      const { refused, released } = allocator.setPools([
        { name: 'older', addresses: ['198.51.100.0/30', '192.0.2.0/24'] },
        { name: 'serving', addresses: ['192.0.2.0/28'], avoidBuggyIPs: true },
      ]);
      expect(released).to.deep.equal([]);
      expect(refused).to.deep.equal([
        {
          pool: 'older',
          reason: 'Overlap',
          stale: true,
          message: 'pool older: 192.0.2.0-192.0.2.255 overlaps 192.0.2.0-192.0.2.15 of pool serving, which is in force',
        },
      ]);
      expect(allocator.assignmentOf('default/a')).to.deep.equal({ ips: onServing, pool: 'serving' });
      expect(allocator.assignmentOf('default/b')).to.deep.equal({ ips: onOlder, pool: 'older' });
      // .0 stays excluded: the serving pool's spec is the one in force.
      expect(failure(allocator.assign(service('c', { requestedIPs: ['192.0.2.0'] }))).reason).to.equal('NotInAnyPool');
      expect(ips(allocator.assign(service('d', { requestedPool: 'older' })))).to.deep.equal(['198.51.100.1']);
    });

    it('a valid edit takes effect and releases only what the new spec no longer admits', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/29'] });
      ips(allocator.assign(service('a')));
      ips(allocator.assign(service('b')));
      const { refused, released } = allocator.setPools([{ name: 'p', addresses: ['192.0.2.1-192.0.2.7'] }]);
      expect(refused).to.deep.equal([]);
      expect(released.map((r) => [r.service, r.reason])).to.deep.equal([['default/a', 'PoolShrunk']]);
      expect(allocator.assignmentOf('default/b')?.ips).to.deep.equal(['192.0.2.1']);
    });

    it('refuses IPv4-mapped IPv6 ranges: an IPv6 Service never gets an IPv4-mapped address', () => {
      const allocator = new Allocator();
      const { refused } = allocator.setPools([{ name: 'p', addresses: ['192.0.2.0/30', '::ffff:192.0.2.0/126'] }]);
      expect(refused).to.deep.equal([
        {
          pool: 'p',
          reason: 'InvalidSpec',
          stale: false,
          message: 'pool p: spec.addresses[1]: "::ffff:192.0.2.0/126": is IPv4-mapped (::ffff:0:0/96): write the IPv4 range 192.0.2.0-192.0.2.3 instead',
        },
      ]);
      expect(failure(allocator.assign(service('six', { ipFamilies: ['IPv6'] }))).reason).to.equal('NoEligiblePool');
    });
  });

  describe('requests', () => {
    it('gives spec.loadBalancerIP when it is free and in a pool, and says why not otherwise', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/28'] });
      expect(ips(allocator.assign(service('a', { requestedIPs: ['192.0.2.9'] })))).to.deep.equal(['192.0.2.9']);
      expect(failure(allocator.assign(service('b', { requestedIPs: ['192.0.2.9'] })))).to.deep.equal({
        reason: 'SharingConflict',
        message: '192.0.2.9 is held by default/a, which does not allow sharing',
        conflictWith: 'default/a',
      });
      expect(failure(allocator.assign(service('c', { requestedIPs: ['198.51.100.1'] })))).to.deep.equal({
        reason: 'NotInAnyPool',
        message: '198.51.100.1 is not in any pool',
      });
      expect(failure(allocator.assign(service('d', { requestedIPs: ['192.0.2.x'] })))).to.deep.equal({
        reason: 'InvalidRequest',
        message: 'loadBalancerIPs: "192.0.2.x" is not an IPv4 or IPv6 address',
      });
    });

    it('takes loadBalancerIPs one per family, from one pool, matching the requested pool', () => {
      const allocator = withPools(
        { name: 'p', addresses: ['192.0.2.0/28', '2001:db8::/64'] },
        { name: 'q', addresses: ['198.51.100.0/28'] },
      );
      const dual = { ipFamilies: ['IPv6', 'IPv4'] as const, ipFamilyPolicy: 'RequireDualStack' as const };
      expect(ips(allocator.assign(service('a', { ...dual, requestedIPs: ['192.0.2.5', '2001:db8::5'] })))).to.deep.equal([
        '2001:db8::5',
        '192.0.2.5',
      ]);
      expect(failure(allocator.assign(service('b', { ...dual, requestedIPs: ['192.0.2.6', '192.0.2.7'] }))).message).to.equal(
        'loadBalancerIPs: ["192.0.2.6","192.0.2.7"] must hold at most one address per family',
      );
      expect(
        failure(allocator.assign(service('c', { ...dual, requestedIPs: ['198.51.100.1', '2001:db8::6'] }))).message,
      ).to.equal('2001:db8::6 and 198.51.100.1 lie in different pools (p, q)');
      expect(failure(allocator.assign(service('d', { requestedIPs: ['2001:db8::7'] }))).message).to.match(
        /does not match the Service's ipFamilies \["IPv4"\]/,
      );
      expect(failure(allocator.assign(service('e', { requestedIPs: ['192.0.2.8'], requestedPool: 'q' })))).to.deep.equal({
        reason: 'InvalidRequest',
        message: 'requested 192.0.2.8 lies in pool p, not in the requested pool q',
      });
      expect(allocator.assignmentOf('default/e')).to.equal(undefined);
    });

    it('allocates from the address-pool annotation or says the pool does not exist', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/28'] }, { name: 'q', addresses: ['198.51.100.0/28'] });
      expect(allocator.assign(service('a', { requestedPool: 'q' }))).to.deep.include({ ips: ['198.51.100.0'], pool: 'q' });
      expect(failure(allocator.assign(service('b', { requestedPool: 'nope' })))).to.deep.equal({
        reason: 'PoolNotFound',
        message: 'pool nope does not exist',
      });
    });

    it('rejects malformed requests naming the field and value, keeping what the Service holds', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/28'] });
      ips(allocator.assign(service('a')));
      const messages = [
        service('a', { ipFamilies: [] }),
        service('a', { ipFamilies: ['IPv4', 'IPv4'] }),
        service('a', { ipFamilyPolicy: 'RequireDualStack' }),
        service('a', { ports: [{ port: 70000, protocol: 'TCP' }] }),
        service('a', { ports: [{ port: 80, protocol: 'ICMP' }] }),
        service('a', { requestedIPs: ['192.0.2.1', '2001:db8::1', '192.0.2.2'] }),
      ].map((request) => failure(allocator.assign(request)).message);
      expect(messages).to.deep.equal([
        'spec.ipFamilies: [] must be one or two distinct of IPv4, IPv6',
        'spec.ipFamilies: ["IPv4","IPv4"] must be one or two distinct of IPv4, IPv6',
        'spec.ipFamilies: ["IPv4"] must list both families for RequireDualStack',
        'spec.ports[0].port: 70000 must be 1-65535',
        'spec.ports[0].protocol: "ICMP" must be one of TCP, UDP, SCTP',
        'loadBalancerIPs: ["192.0.2.1","2001:db8::1","192.0.2.2"] must hold at most one address per family',
      ]);
      expect(allocator.assignmentOf('default/a')).to.deep.equal({ ips: ['192.0.2.0'], pool: 'p' });
    });
  });

  describe('dual-stack', () => {
    const v4only = { name: 'v4', addresses: ['192.0.2.0/30'], priority: 1 };
    const v6only = { name: 'v6', addresses: ['2001:db8:1::/126'], priority: 2 };
    const both = { name: 'both', addresses: ['198.51.100.0/30', '2001:db8:2::/126'], priority: 3 };

    it('SingleStack takes the Service family', () => {
      const allocator = withPools(v4only, v6only);
      expect(allocator.assign(service('a', { ipFamilies: ['IPv6'] }))).to.deep.include({ ips: ['2001:db8:1::'], pool: 'v6' });
    });

    it('RequireDualStack takes both from one pool, primary family first, or fails', () => {
      const allocator = withPools(v4only, v6only, both);
      expect(
        allocator.assign(service('a', { ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'RequireDualStack' })),
      ).to.deep.include({ ips: ['2001:db8:2::', '198.51.100.0'], pool: 'both' });
      const only = withPools(v4only, v6only);
      expect(
        failure(only.assign(service('b', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' }))),
      ).to.deep.equal({
        reason: 'FamilyUnavailable',
        message: 'no eligible pool (v4, v6) has free IPv4 and IPv6 addresses together',
      });
      const v4 = withPools(v4only);
      expect(
        failure(v4.assign(service('c', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' }))),
      ).to.deep.equal({
        reason: 'FamilyUnavailable',
        message: 'no eligible pool (v4) has IPv6 addresses',
      });
      expect(failure(v4.assign(service('d', { ipFamilies: ['IPv6'] }))).reason).to.equal('FamilyUnavailable');
    });

    it('PreferDualStack takes both when a pool has both, else the primary family, saying why', () => {
      const allocator = withPools(v4only, v6only, both);
      const prefer = { ipFamilies: ['IPv4', 'IPv6'] as const, ipFamilyPolicy: 'PreferDualStack' as const };
      expect(allocator.assign(service('a', prefer))).to.deep.include({ ips: ['198.51.100.0', '2001:db8:2::'], pool: 'both' });
      const split = withPools(v6only, v4only);
      const result = split.assign(service('b', { ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'PreferDualStack' }));
      expect(result).to.deep.include({ ips: ['2001:db8:1::'], pool: 'v6' });
      expect(result.ok && result.partial).to.deep.equal({
        reason: 'FamilyUnavailable',
        message: 'no eligible pool (v6) has IPv4 addresses',
      });
    });

    it('PreferDualStack adds the missing family later from the same pool, keeping the first address', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/30'] });
      const prefer = service('a', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' });
      expect(ips(allocator.assign(prefer))).to.deep.equal(['192.0.2.0']);
      const again = allocator.assign(prefer);
      expect(again).to.deep.include({ changed: false, ips: ['192.0.2.0'] });
      expect(again.ok && again.partial?.reason).to.equal('FamilyUnavailable');
      expect(allocator.setPools([{ name: 'p', addresses: ['192.0.2.0/30', '2001:db8::/64'] }]).released).to.deep.equal([]);
      expect(allocator.assign(prefer)).to.deep.include({ changed: true, ips: ['192.0.2.0', '2001:db8::'] });
    });
    it('keeps both addresses when the primary family is swapped, primary first', () => {
      const allocator = withPools(both);
      const dual = (first: 'IPv4' | 'IPv6', second: 'IPv4' | 'IPv6') =>
        service('a', { ipFamilies: [first, second], ipFamilyPolicy: 'RequireDualStack' });
      expect(ips(allocator.assign(dual('IPv4', 'IPv6')))).to.deep.equal(['198.51.100.0', '2001:db8:2::']);
      expect(allocator.assign(dual('IPv6', 'IPv4'))).to.deep.include({ changed: true, ips: ['2001:db8:2::', '198.51.100.0'] });
      expect(allocator.assign(dual('IPv6', 'IPv4'))).to.deep.include({ changed: false });
    });
  });

  describe('sharing', () => {
    const share = (name: string, port: number, extra: Partial<ServiceRequest> = {}) =>
      service(name, { sharingKey: 'k', ports: [tcp(port)], ...extra });

    it('puts Services with the same key and distinct ports on one address, counted once', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/28'] });
      expect(ips(allocator.assign(share('a', 80)))).to.deep.equal(['192.0.2.0']);
      expect(ips(allocator.assign(share('b', 443)))).to.deep.equal(['192.0.2.0']);
      expect(
        ips(allocator.assign(service('c', { ports: [tcp(22)], requestedIPs: ['192.0.2.0'], sharingKey: 'k' }))),
      ).to.deep.equal(['192.0.2.0']);
      expect(allocator.servicesOn('192.0.2.0')).to.deep.equal(['default/a', 'default/b', 'default/c']);
      expect(allocator.poolStats().get('p')?.IPv4.inUse).to.equal(1n);
    });

    it('keeps clashing Services apart: same port, other key, no key, other backend', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/28'] });
      ips(allocator.assign(share('a', 80)));
      const onA = { requestedIPs: ['192.0.2.0'] };
      const conflicts = [
        share('b', 80, onA),
        share('c', 81, { ...onA, sharingKey: 'other' }),
        service('d', { ...onA, ports: [tcp(82)] }),
        share('e', 83, { ...onA, externalTrafficPolicy: 'Local', selector: { app: 'x' } }),
      ].map((request) => failure(allocator.assign(request)));
      expect(conflicts.map((c) => c.message)).to.deep.equal([
        '192.0.2.0 is held by default/a, which already uses port TCP/80',
        '192.0.2.0 is held by default/a with sharing key "k", not "other"',
        '192.0.2.0 is held by default/a and this Service does not allow sharing',
        '192.0.2.0 is held by default/a, whose externalTrafficPolicy or pod selector differs (Local Services sharing an address must select the same pods)',
      ]);
      expect(conflicts.every((c) => c.reason === 'SharingConflict' && c.conflictWith === 'default/a')).to.equal(true);
      // Without a pinned address, a clashing sharer simply gets another one.
      expect(ips(allocator.assign(share('f', 80)))).to.deep.equal(['192.0.2.1']);
    });

    it('lets Local Services share only when they select the same pods', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/28'] });
      const local = (name: string, port: number, app: string) =>
        share(name, port, { externalTrafficPolicy: 'Local', selector: { app, tier: 'x' } });
      expect(ips(allocator.assign(local('a', 80, 'web')))).to.deep.equal(['192.0.2.0']);
      expect(ips(allocator.assign(local('b', 81, 'web')))).to.deep.equal(['192.0.2.0']);
      expect(ips(allocator.assign(local('c', 82, 'db')))).to.deep.equal(['192.0.2.1']);
      expect(ips(allocator.assign(share('d', 83)))).to.deep.equal(['192.0.2.2']);
    });

    it('frees a shared address only when the last sharer leaves', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/31'] });
      ips(allocator.assign(share('a', 80)));
      ips(allocator.assign(share('b', 81)));
      expect(allocator.release('default/a', 'ServiceDeleted')).to.deep.include({ ips: ['192.0.2.0'], reason: 'ServiceDeleted' });
      expect(ips(allocator.assign(service('c')))).to.deep.equal(['192.0.2.1']);
      expect(failure(allocator.assign(service('d'))).reason).to.equal('Exhausted');
      allocator.release('default/b', 'NotLoadBalancer');
      expect(ips(allocator.assign(service('d')))).to.deep.equal(['192.0.2.0']);
    });

    it('lets a sole holder change its sharing key in place', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/28'] });
      ips(allocator.assign(share('a', 80)));
      expect(allocator.assign(share('a', 80, { sharingKey: 'new' }))).to.deep.include({ changed: false, ips: ['192.0.2.0'] });
      expect(ips(allocator.assign(share('b', 81, { sharingKey: 'new' })))).to.deep.equal(['192.0.2.0']);
      expect(ips(allocator.assign(share('c', 82)))).to.deep.equal(['192.0.2.1']);
    });
  });

  describe('changes', () => {
    it('is idempotent: assigning the same request again changes nothing', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/28'] });
      const first = allocator.assign(service('a'));
      expect(allocator.assign(service('a'))).to.deep.equal({ ...first, changed: false });
    });

    it('pool shrink releases only addresses left outside, saying why', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/30'] });
      ['a', 'b', 'c'].forEach((name) => allocator.assign(service(name)));
      const { released } = allocator.setPools([{ name: 'p', addresses: ['192.0.2.0/31'] }]);
      expect(released).to.deep.equal([
        {
          service: 'default/c',
          ips: ['192.0.2.2'],
          pool: 'p',
          reason: 'PoolShrunk',
          message: '192.0.2.2 is no longer in pool p nor any other pool',
        },
      ]);
      expect(allocator.assign(service('a'))).to.deep.include({ changed: false, ips: ['192.0.2.0'] });
      expect(failure(allocator.assign(service('c'))).reason).to.equal('Exhausted');
      expect(allocator.poolStats().get('p')?.IPv4).to.deep.equal({ total: 2n, inUse: 2n, available: 0n });
    });

    it('pool delete releases its addresses unless another pool now covers them', () => {
      const allocator = withPools(
        { name: 'old', addresses: ['192.0.2.0/30'] },
        { name: 'other', addresses: ['198.51.100.0/30'] },
      );
      ips(allocator.assign(service('a')));
      ips(allocator.assign(service('b', { requestedPool: 'old' })));
      const { released } = allocator.setPools([
        { name: 'other', addresses: ['198.51.100.0/30'] },
        { name: 'new', addresses: ['192.0.2.0/32'] },
      ]);
      expect(released).to.deep.equal([
        {
          service: 'default/b',
          ips: ['192.0.2.1'],
          pool: 'old',
          reason: 'PoolDeleted',
          message: 'pool old was deleted; 192.0.2.1 is in no other pool',
        },
      ]);
      expect(allocator.assignmentOf('default/a')).to.deep.equal({ ips: ['192.0.2.0'], pool: 'new' });
      expect(failure(allocator.assign(service('b', { requestedPool: 'old' }))).reason).to.equal('PoolNotFound');
    });

    it('releases holders a pool no longer admits and .0/.255 once avoidBuggyIPs is on', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/30'] });
      ips(allocator.assign(service('a')));
      ips(allocator.assign(service('b', { namespace: 'other', key: 'other/b' })));
      const { released } = allocator.setPools([
        { name: 'p', addresses: ['192.0.2.0/30'], avoidBuggyIPs: true, namespaces: ['default'] },
      ]);
      expect(released.map((r) => [r.service, r.reason, r.message])).to.deep.equal([
        ['default/a', 'PoolChanged', '192.0.2.0 is now excluded by pool p (avoidBuggyIPs)'],
        ['other/b', 'PoolIneligible', 'pool p no longer admits this Service (namespace or labels)'],
      ]);
      expect(ips(allocator.assign(service('a')))).to.deep.equal(['192.0.2.1']);
      expect(allocator.poolStats().get('p')?.IPv4).to.deep.equal({ total: 3n, inUse: 1n, available: 2n });
    });

    it('a changed request releases the old address and allocates again, with the reason', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/28'] }, { name: 'q', addresses: ['198.51.100.0/28'] });
      ips(allocator.assign(service('a')));
      const moved = allocator.assign(service('a', { requestedIPs: ['192.0.2.9'] }));
      expect(moved).to.deep.include({ ips: ['192.0.2.9'], changed: true });
      expect(moved.released).to.deep.include({
        ips: ['192.0.2.0'],
        reason: 'RequestChanged',
        message: 'holds 192.0.2.0 but the Service asks for 192.0.2.9',
      });
      const repooled = allocator.assign(service('a', { requestedPool: 'q' }));
      expect(repooled).to.deep.include({ ips: ['198.51.100.0'], pool: 'q' });
      expect(repooled.released?.message).to.equal('holds 192.0.2.9 from pool p but the Service asks for pool q');
      const refamilied = allocator.assign(service('a', { ipFamilies: ['IPv6'] }));
      expect(failure(refamilied).reason).to.equal('FamilyUnavailable');
      expect(refamilied.released?.reason).to.equal('RequestChanged');
      expect(allocator.assignmentOf('default/a')).to.equal(undefined);
    });

    it('a sharer whose ports now clash is moved, with the conflict as the reason', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/28'] });
      ips(allocator.assign(service('a', { sharingKey: 'k', ports: [tcp(80)] })));
      ips(allocator.assign(service('b', { sharingKey: 'k', ports: [tcp(81)] })));
      const result = allocator.assign(service('b', { sharingKey: 'k', ports: [tcp(80)] }));
      expect(result).to.deep.include({ ips: ['192.0.2.1'] });
      expect(result.released).to.deep.include({
        reason: 'SharingConflict',
        message: '192.0.2.0 is held by default/a, which already uses port TCP/80',
      });
    });

    it('type change and deletion free the address for the next Service', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/31'] });
      ips(allocator.assign(service('a')));
      ips(allocator.assign(service('b')));
      expect(allocator.release('default/a', 'NotLoadBalancer')).to.deep.include({
        reason: 'NotLoadBalancer',
        message: 'the Service is no longer of type LoadBalancer',
      });
      expect(allocator.release('default/a', 'ServiceDeleted')).to.equal(undefined);
      expect(ips(allocator.assign(service('c')))).to.deep.equal(['192.0.2.0']);
    });
  });

  describe('restart', () => {
    it('adopts written addresses before handing out new ones, changing none of them', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/28'] });
      expect(allocator.adopt(service('a'), ['192.0.2.5'])).to.deep.equal({ ok: true, ips: ['192.0.2.5'], pool: 'p' });
      expect(allocator.adopt(service('a'), ['192.0.2.5'])).to.deep.equal({ ok: true, ips: ['192.0.2.5'], pool: 'p' });
      expect(ips(allocator.assign(service('b', { requestedIPs: ['192.0.2.0'] })))).to.deep.equal(['192.0.2.0']);
      expect(allocator.assign(service('a'))).to.deep.include({ ips: ['192.0.2.5'], changed: false });
      expect(ips(allocator.assign(service('c')))).to.deep.equal(['192.0.2.1']);
    });

    it('adopts a dual-stack status in any order, primary family first', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/28', '2001:db8::/64'] });
      const dual = service('a', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' });
      expect(allocator.adopt(dual, ['2001:db8::9', '192.0.2.9'])).to.deep.equal({
        ok: true,
        ips: ['192.0.2.9', '2001:db8::9'],
        pool: 'p',
      });
      expect(allocator.assign(dual)).to.deep.include({ changed: false, ips: ['192.0.2.9', '2001:db8::9'] });
    });

    it('refuses a duplicate without sharing, an address outside the pools, or garbage', () => {
      const allocator = withPools({ name: 'p', addresses: ['192.0.2.0/28'] });
      allocator.adopt(service('a'), ['192.0.2.5']);
      expect(allocator.adopt(service('b'), ['192.0.2.5'])).to.deep.equal({
        ok: false,
        failure: {
          reason: 'SharingConflict',
          message: '192.0.2.5 is held by default/a, which does not allow sharing',
          conflictWith: 'default/a',
        },
      });
      expect(allocator.adopt(service('c'), ['203.0.113.1'])).to.deep.include({ ok: false });
      expect(allocator.adopt(service('d'), ['not-an-ip'])).to.deep.equal({
        ok: false,
        failure: {
          reason: 'InvalidRequest',
          message: 'status.loadBalancer.ingress[0].ip: "not-an-ip" is not an IPv4 or IPv6 address',
        },
      });
      expect(ips(allocator.assign(service('b')))).to.deep.equal(['192.0.2.0']);
      expect(allocator.adopt(service('e', { sharingKey: 'k', ports: [tcp(1)] }), ['192.0.2.7'])).to.deep.include({ ok: true });
      expect(allocator.adopt(service('f', { sharingKey: 'k', ports: [tcp(2)] }), ['192.0.2.7'])).to.deep.include({ ok: true });
    });
  });
});
