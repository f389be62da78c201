import { expect } from 'chai';
import fc from 'fast-check';
import { Allocator, type AssignResult, type PoolRefusal } from '../../../src/allocator/allocator.ts';
import { formatAddress, isBuggyIPv4, parseAddress, parseRange, type Family } from '../../../src/allocator/ip.ts';
import type { PoolSpec } from '../../../src/allocator/pool.ts';
import type { ServiceRequest } from '../../../src/allocator/request.ts';

// Small spaces so that pools overlap, fill up and share often.
// From 192.0.2.128 so that spans cross a /24 boundary (.255 then .0) for avoidBuggyIPs.
const V4_BASE = 0xc0000280n; // 192.0.2.128
const V6_BASE = 0x20010db8000000000000000000000000n; // 2001:db8::

interface PoolDraft {
  v4?: [number, number];
  v6?: [number, number];
  autoAssign: boolean;
  avoidBuggyIPs: boolean;
  priority: number;
  onlyNamespaceA: boolean;
  onlyWeb: boolean;
  /** An edit with a mistake in it (a range whose start is after its end). */
  typo: boolean;
}

const span = (max: number) =>
  fc
    .tuple(fc.integer({ min: 0, max }), fc.integer({ min: 0, max: 6 }))
    .map(([start, length]): [number, number] => [start, start + length]);

const poolDraft: fc.Arbitrary<PoolDraft> = fc.record({
  // Near the start (where requested addresses fall), anywhere, or across the .255/.0 pair at offsets 127/128.
  v4: fc.option(
    fc.oneof(
      span(12),
      span(249),
      span(10).map(([a, b]): [number, number] => [a + 119, b + 119]),
    ),
    {
      freq: 5,
      nil: undefined,
    },
  ),
  v6: fc.option(span(20), { freq: 3, nil: undefined }),
  autoAssign: fc.constantFrom(true, true, false),
  avoidBuggyIPs: fc.boolean(),
  priority: fc.integer({ min: 0, max: 2 }),
  onlyNamespaceA: fc.constantFrom(false, false, true),
  onlyWeb: fc.constantFrom(false, false, true),
  typo: fc.constantFrom(false, false, false, true),
});

function toSpecs(drafts: PoolDraft[]): PoolSpec[] {
  return drafts.map((draft, i) => {
    const addresses: string[] = [];
    if (draft.v4)
      addresses.push(
        `${formatAddress('IPv4', V4_BASE + BigInt(draft.v4[0]))}-${formatAddress('IPv4', V4_BASE + BigInt(draft.v4[1]))}`,
      );
    if (draft.v6)
      addresses.push(
        `${formatAddress('IPv6', V6_BASE + BigInt(draft.v6[0]))}-${formatAddress('IPv6', V6_BASE + BigInt(draft.v6[1]))}`,
      );
    if (addresses.length === 0) addresses.push(`${formatAddress('IPv4', V4_BASE + 100n)}/31`);
    if (draft.typo) addresses.push('198.51.100.9-198.51.100.1');
    return {
      name: `pool${i}`,
      addresses,
      autoAssign: draft.autoAssign,
      avoidBuggyIPs: draft.avoidBuggyIPs,
      priority: draft.priority,
      namespaces: draft.onlyNamespaceA ? ['ns-a'] : [],
      serviceSelectors: draft.onlyWeb ? [(labels) => labels.app === 'web'] : [],
    };
  });
}

/** A value one time in six, otherwise undefined. */
const rarely = <T>(arbitrary: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });

const familyChoice = fc.constantFrom(
  { ipFamilies: ['IPv4'] as Family[], ipFamilyPolicy: 'SingleStack' as const },
  { ipFamilies: ['IPv6'] as Family[], ipFamilyPolicy: 'SingleStack' as const },
  { ipFamilies: ['IPv4', 'IPv6'] as Family[], ipFamilyPolicy: 'PreferDualStack' as const },
  { ipFamilies: ['IPv6', 'IPv4'] as Family[], ipFamilyPolicy: 'RequireDualStack' as const },
);

const serviceRequest: fc.Arbitrary<ServiceRequest> = fc
  .record({
    name: fc.integer({ min: 0, max: 9 }),
    namespace: fc.constantFrom('ns-a', 'ns-b'),
    web: fc.boolean(),
    families: familyChoice,
    sharingKey: fc.constantFrom(undefined, 'k1', 'k1', 'k2'),
    ports: fc.subarray([80, 443, 53, 22, 8080, 8443], { maxLength: 2 }),
    local: fc.constantFrom(false, false, true),
    app: fc.constantFrom('x', 'y'),
    requested: rarely(fc.integer({ min: 0, max: 20 })),
    requestedPool: rarely(fc.integer({ min: 0, max: 3 })),
  })
  .map((s) => ({
    key: `${s.namespace}/svc${s.name}`,
    namespace: s.namespace,
    labels: s.web ? { app: 'web' } : ({} as Record<string, string>),
    ...s.families,
    sharingKey: s.sharingKey,
    ports: s.ports.map((port) => ({ port, protocol: 'TCP' })),
    externalTrafficPolicy: s.local ? ('Local' as const) : ('Cluster' as const),
    selector: { app: s.app },
    // One address per family the Service asks for, so that most pinned requests are well-formed.
    requestedIPs:
      s.requested === undefined
        ? undefined
        : s.families.ipFamilies.map((family) =>
            formatAddress(family, (family === 'IPv4' ? V4_BASE : V6_BASE) + BigInt(s.requested as number)),
          ),
    requestedPool: s.requestedPool === undefined ? undefined : `pool${s.requestedPool}`,
  }));

type Event =
  | { kind: 'assign'; request: ServiceRequest }
  | { kind: 'release'; name: number; namespace: string }
  | { kind: 'pools'; drafts: PoolDraft[] };

const event: fc.Arbitrary<Event> = fc.oneof(
  { weight: 8, arbitrary: serviceRequest.map((request) => ({ kind: 'assign' as const, request })) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('release' as const),
      name: fc.integer({ min: 0, max: 9 }),
      namespace: fc.constantFrom('ns-a', 'ns-b'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('pools' as const), drafts: fc.array(poolDraft, { minLength: 1, maxLength: 4 }) }),
  },
);

/** Runs events, remembering the request each holder was last (successfully) assigned with. */
function run(initial: PoolDraft[], events: Event[]) {
  const allocator = new Allocator();
  let specs = toSpecs(initial);
  allocator.setPools(specs);
  const requests = new Map<string, ServiceRequest>();
  for (const e of events) {
    if (e.kind === 'pools') {
      const before = allocator.assignments();
      specs = toSpecs(e.drafts);
      const { refused } = allocator.setPools(specs);
      checkEditsKeepAddresses(allocator, specs, refused, before, requests);
    } else if (e.kind === 'release') {
      const key = `${e.namespace}/svc${e.name}`;
      allocator.release(key, 'ServiceDeleted');
      requests.delete(key);
    } else {
      const result = allocator.assign(e.request);
      if (result.ok) requests.set(e.request.key, e.request);
      else {
        if (allocator.assignmentOf(e.request.key) === undefined) requests.set(e.request.key, e.request);
        checkFailureReason(allocator, e.request, result.failure.reason);
      }
    }
    checkInvariants(allocator, requests);
  }
  return { allocator, specs, requests };
}

/**
 * No Service loses or changes an address it holds unless a valid spec no longer
 * admits it: its pool was deleted, or its pool's edit was accepted and leaves the
 * address outside, excludes it, or no longer admits the Service.
 */
function checkEditsKeepAddresses(
  allocator: Allocator,
  specs: PoolSpec[],
  refused: readonly PoolRefusal[],
  before: Map<string, { ips: string[]; pool: string }>,
  requests: Map<string, ServiceRequest>,
): void {
  const stale = new Set(refused.filter((r) => r.stale).map((r) => r.pool));
  for (const [key, held] of before) {
    const after = allocator.assignmentOf(key);
    if (after !== undefined) {
      expect(after.ips, `${key} keeps its addresses`).to.deep.equal(held.ips);
      continue;
    }
    const spec = specs.find((s) => s.name === held.pool);
    if (spec === undefined) continue;
    expect(stale.has(held.pool), `${key} lost ${held.ips.join(', ')} to a refused edit of pool ${held.pool}`).to.equal(false);
    const request = requests.get(key) as ServiceRequest;
    const stillAdmitted = held.ips.every((ip) => {
      const address = parseAddress(ip, 'test');
      const inRange = rangesOf(spec).some((r) => r.family === address.family && r.first <= address.value && address.value <= r.last);
      return inRange && !(spec.avoidBuggyIPs && address.family === 'IPv4' && isBuggyIPv4(address.value));
    });
    const covers = (other: PoolSpec) => other.name !== spec.name && held.ips.some((ip) => {
      const address = parseAddress(ip, 'test');
      return rangesOf(other).some((r) => r.family === address.family && r.first <= address.value && address.value <= r.last);
    });
    const movedAway = allocator.poolsInForce().some(covers);
    expect(stillAdmitted && admits(spec, request) && !movedAway, `${key} released from pool ${held.pool} whose spec still admits ${held.ips.join(', ')}`).to.equal(false);
  }
}

/** The reason given for a failure is true of the state the allocator is in. */
function checkFailureReason(allocator: Allocator, request: ServiceRequest, reason: string): void {
  const accepted = allocator.poolsInForce();
  const [family] = request.ipFamilies as Family[];
  if (reason === 'NotInAnyPool') {
    const outside = (request.requestedIPs ?? []).filter((ip) => {
      const address = parseAddress(ip, 'test');
      const owner = accepted.find((spec) =>
        rangesOf(spec).some((r) => r.family === address.family && r.first <= address.value && address.value <= r.last),
      );
      return owner === undefined || (owner.avoidBuggyIPs && address.family === 'IPv4' && isBuggyIPv4(address.value));
    });
    expect(outside, `some of ${JSON.stringify(request.requestedIPs)} is in no pool`).to.not.deep.equal([]);
  }
  const plain =
    request.ipFamilyPolicy === 'SingleStack' && !request.sharingKey && !request.requestedIPs && !request.requestedPool;
  if (!plain || family === undefined) return;
  const eligible = accepted.filter((spec) => spec.autoAssign !== false && admits(spec, request));
  if (reason === 'NoEligiblePool') expect(eligible.map((spec) => spec.name)).to.deep.equal([]);
  if (reason === 'Exhausted') {
    // Full, not absent: some eligible pool has ranges of the family (avoidBuggyIPs may leave them empty).
    const withFamily = eligible.filter((spec) => rangesOf(spec).some((range) => range.family === family));
    expect(withFamily, `an eligible pool has ${family} ranges`).to.not.deep.equal([]);
    for (const spec of eligible)
      expect(allocator.poolStats().get(spec.name)?.[family].available, `${spec.name} is full`).to.equal(0n);
  }
  if (reason === 'FamilyUnavailable') {
    for (const spec of eligible) expect(rangesOf(spec).map((range) => range.family)).to.not.include(family);
  }
}

function backendKey(request: ServiceRequest): string {
  return request.externalTrafficPolicy === 'Local' ? `Local:${JSON.stringify(request.selector)}` : '';
}

function admits(spec: PoolSpec, request: ServiceRequest): boolean {
  if ((spec.namespaces ?? []).length > 0 && !(spec.namespaces ?? []).includes(request.namespace)) return false;
  const selectors = spec.serviceSelectors ?? [];
  return selectors.length === 0 || selectors.some((matches) => matches(request.labels ?? {}));
}

/** The ranges of a spec in force (every entry parses). */
function rangesOf(spec: PoolSpec) {
  return spec.addresses.map((text) => parseRange(text, 'test'));
}

/** Judged against the specs in force: a refused edit leaves the pool's previous spec serving. */
function checkInvariants(allocator: Allocator, requests: Map<string, ServiceRequest>): void {
  const specs = allocator.poolsInForce();
  const byIp = new Map<string, string[]>();
  const inUse = new Map<string, Set<string>>();
  for (const [key, assignment] of allocator.assignments()) {
    const request = requests.get(key) as ServiceRequest;
    expect(request, `holder ${key} has a request`).to.not.equal(undefined);
    const spec = specs.find((s) => s.name === assignment.pool) as PoolSpec;
    expect(spec, `pool ${assignment.pool} of ${key} is in force`).to.not.equal(undefined);
    expect(admits(spec, request), `pool ${spec.name} admits ${key}`).to.equal(true);
    if (request.requestedPool !== undefined) expect(assignment.pool).to.equal(request.requestedPool);
    if (request.requestedIPs !== undefined) expect(assignment.ips).to.deep.equal(request.requestedIPs);
    const families = assignment.ips.map((ip) => parseAddress(ip, 'test').family);
    expect(families.every((family) => request.ipFamilies.includes(family))).to.equal(true);
    if (request.ipFamilyPolicy !== 'PreferDualStack') expect(families).to.deep.equal(request.ipFamilies);
    for (const ip of assignment.ips) {
      const address = parseAddress(ip, 'test');
      const inRange = rangesOf(spec).some(
        (r) => r.family === address.family && r.first <= address.value && address.value <= r.last,
      );
      expect(inRange, `${ip} of ${key} lies in pool ${spec.name}`).to.equal(true);
      if (spec.avoidBuggyIPs && address.family === 'IPv4') expect(isBuggyIPv4(address.value)).to.equal(false);
      byIp.set(ip, [...(byIp.get(ip) ?? []), key]);
      const poolKey = `${spec.name}/${address.family}`;
      inUse.set(poolKey, (inUse.get(poolKey) ?? new Set()).add(ip));
    }
  }
  // No address twice unless sharing allows it.
  for (const [ip, holders] of byIp) {
    if (holders.length < 2) continue;
    const sharers = holders.map((key) => requests.get(key) as ServiceRequest);
    const first = sharers[0] as ServiceRequest;
    for (const other of sharers) {
      expect(other.sharingKey, `sharers of ${ip}`).to.be.a('string').and.equal(first.sharingKey);
      expect(backendKey(other)).to.equal(backendKey(first));
    }
    const ports = sharers.flatMap((s) => (s.ports ?? []).map((p) => `${p.protocol}/${p.port}`));
    expect(new Set(ports).size, `ports on ${ip} are distinct`).to.equal(ports.length);
  }
  for (const [name, counts] of allocator.poolStats()) {
    for (const family of ['IPv4', 'IPv6'] as const) {
      expect(counts[family].inUse).to.equal(BigInt(inUse.get(`${name}/${family}`)?.size ?? 0));
      expect(counts[family].available).to.equal(counts[family].total - counts[family].inUse);
    }
  }
}

/** Assigns every remembered request in key order; returns the results by key. */
function pass(allocator: Allocator, requests: Map<string, ServiceRequest>): Map<string, AssignResult> {
  return new Map([...requests.keys()].sort().map((key) => [key, allocator.assign(requests.get(key) as ServiceRequest)]));
}

describe('Allocator properties', () => {
  const pools = fc.array(poolDraft, { minLength: 1, maxLength: 4 });
  const events = fc.array(event, { minLength: 10, maxLength: 60 });

  it('never hands an address out twice unless sharing allows, and only from eligible pools', () => {
    fc.assert(
      fc.property(pools, events, (initial, sequence) => void run(initial, sequence)),
      { numRuns: 150 },
    );
  });

  it('re-running on the same state changes nothing', () => {
    fc.assert(
      fc.property(pools, events, (initial, sequence) => {
        const { allocator, requests } = run(initial, sequence);
        pass(allocator, requests);
        const before = allocator.assignments();
        const stats = allocator.poolStats();
        for (const [key, result] of pass(allocator, requests)) {
          if (result.ok) expect(result.changed, `${key} unchanged`).to.equal(false);
          else expect(allocator.assignmentOf(key)).to.equal(before.get(key));
        }
        expect(allocator.assignments()).to.deep.equal(before);
        expect(allocator.poolStats()).to.deep.equal(stats);
      }),
      { numRuns: 100 },
    );
  });

  it('a restart that adopts in any order changes no address', () => {
    fc.assert(
      fc.property(pools, events, fc.integer(), (initial, sequence, seed) => {
        const { allocator, requests } = run(initial, sequence);
        // The restarted allocator is given the specs in force (a refused edit is not among them).
        const specs = allocator.poolsInForce();
        // Converge first (e.g. PreferDualStack picks up a family its pool gained).
        pass(allocator, requests);
        const before = allocator.assignments();
        const restarted = new Allocator();
        restarted.setPools(specs);
        const order = [...before.keys()].sort((a, b) => ((hash(a) ^ seed) >>> 0) - ((hash(b) ^ seed) >>> 0));
        for (const key of order) {
          const adopted = restarted.adopt(requests.get(key) as ServiceRequest, before.get(key)?.ips ?? []);
          expect(adopted.ok, `adopt ${key}`).to.equal(true);
        }
        for (const key of order) {
          const result = restarted.assign(requests.get(key) as ServiceRequest);
          expect(result.ok && result.ips).to.deep.equal(before.get(key)?.ips);
        }
        expect(restarted.assignments()).to.deep.equal(before);
        expect(restarted.poolStats()).to.deep.equal(allocator.poolStats());
      }),
      { numRuns: 100 },
    );
  });

  it('free space is exactly the pool minus what is held, handed out lowest first', () => {
    fc.assert(
      fc.property(pools, events, (initial, sequence) => {
        const { allocator } = run(initial, sequence);
        const held = new Set([...allocator.assignments().values()].flatMap((a) => a.ips));
        for (const spec of allocator.poolsInForce()) {
          for (const family of ['IPv4', 'IPv6'] as const) {
            const expected: string[] = [];
            for (const range of rangesOf(spec).filter((r) => r.family === family)) {
              for (let value = range.first; value <= range.last; value++) {
                const text = formatAddress(family, value);
                if (!held.has(text) && !(spec.avoidBuggyIPs && family === 'IPv4' && isBuggyIPv4(value))) expected.push(text);
              }
            }
            expected.sort((a, b) => Number(parseAddress(a, 't').value - parseAddress(b, 't').value));
            const drained: string[] = [];
            for (let i = 0; ; i++) {
              const result = allocator.assign({
                key: `ns-a/drain-${spec.name}-${family}-${i}`,
                namespace: 'ns-a',
                labels: { app: 'web' },
                ipFamilies: [family],
                requestedPool: spec.name,
              });
              if (!result.ok) {
                expect(result.failure.reason).to.be.oneOf(['Exhausted', 'FamilyUnavailable']);
                break;
              }
              drained.push(...result.ips);
            }
            expect(drained).to.deep.equal(expected);
          }
        }
      }),
      { numRuns: 100 },
    );
  });
});

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
