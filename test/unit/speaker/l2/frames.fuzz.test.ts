// Fuzzing the parser of network bytes: random frames and mutations of valid ones must always
// give a result, never an exception. make test runs a fast subset; `npm run fuzz:frames` runs
// the long mode (ANCHORLB_FUZZ_RUNS, default here 3000 per property).
import { expect } from 'chai';
import fc from 'fast-check';
import {
  buildArpReply,
  buildArpRequest,
  buildGratuitousArp,
  buildNeighborAdvertisement,
  buildNeighborSolicitation,
  icmpv6Checksum,
  parseFrame,
} from '../../../../src/speaker/l2/frames.ts';

const RUNS = Number(process.env.ANCHORLB_FUZZ_RUNS ?? 3000);

const request = buildArpRequest({ senderMac: '02:00:00:00:00:01', senderIp: '192.0.2.1', targetIp: '192.0.2.10' });
const SEEDS = [
  request,
  buildArpReply({ operation: 'request', senderMac: '02:00:00:00:00:01', senderIp: '192.0.2.1', targetMac: '00:00:00:00:00:00', targetIp: '192.0.2.10' }, '02:00:00:00:00:02'),
  buildGratuitousArp({ mac: '02:00:00:00:00:03', ip: '203.0.113.5', operation: 'reply' }),
  buildNeighborSolicitation({ sourceMac: '02:00:00:00:00:01', sourceIp: '2001:db8::1', target: '2001:db8::10' }),
  buildNeighborSolicitation({ sourceMac: '02:00:00:00:00:01', sourceIp: '::', target: '2001:db8::10' }),
  buildNeighborAdvertisement({
    mac: '02:00:00:00:00:02', target: '2001:db8::10', destinationIp: '2001:db8::1', destinationMac: '02:00:00:00:00:01', solicited: true, override: true,
  }),
];

/** A seed frame with some bytes overwritten, some cut off or some appended. */
const mutatedFrame = fc
  .tuple(
    fc.constantFrom(...SEEDS),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
    fc.option(fc.nat(), { nil: undefined }),
    fc.uint8Array({ maxLength: 64 }),
  )
  .map(([seed, writes, cut, tail]) => {
    const bytes = Buffer.from(seed);
    for (const [offset, value] of writes) bytes[offset % bytes.length] = value;
    const kept = cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
    return Buffer.concat([kept, tail]);
  });

const NDP_SEEDS = SEEDS.filter((seed) => seed.readUInt16BE(12) === 0x86dd);
const ICMPV6_AT = 14 + 40;

/** An NDP seed whose ICMPv6 body (flags, target, options) is mutated and re-checksummed, so the option parser is reached. */
const mutatedNdpWithValidChecksum = fc
  .tuple(fc.constantFrom(...NDP_SEEDS), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.uint8Array({ maxLength: 24 }))
  .map(([seed, writes, extraOptions]) => {
    const frame = Buffer.concat([seed, extraOptions]);
    frame.writeUInt16BE(frame.length - ICMPV6_AT, 18);
    const message = frame.subarray(ICMPV6_AT);
    for (const [offset, value] of writes) message[4 + (offset % (message.length - 4))] = value;
    message.writeUInt16BE(0, 2);
    message.writeUInt16BE(icmpv6Checksum(frame.subarray(22, 38), frame.subarray(38, 54), message), 2);
    return frame;
  });

function assertResult(bytes: Uint8Array): void {
  const result = parseFrame(bytes);
  if (result.ok) expect(result.frame.kind).to.be.oneOf(['arp', 'ndp']);
  else expect(result.reason).to.be.a('string').and.not.equal('');
}

describe('L2 frames: parser fuzz', () => {
  it('random bytes always give a result, never an exception', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), assertResult), { numRuns: RUNS });
  });

  it('random bytes behind an ARP or IPv6 Ethernet header always give a result', () => {
    const header = fc.constantFrom(Buffer.from('ffffffffffff0200000000010806', 'hex'), Buffer.from('33330000000102000000000186dd', 'hex'));
    fc.assert(fc.property(header, fc.uint8Array({ maxLength: 120 }), (head, body) => assertResult(Buffer.concat([head, body]))), { numRuns: RUNS });
  });

  it('mutated valid frames always give a result; untouched seeds still parse', () => {
    for (const seed of SEEDS) expect(parseFrame(seed).ok).to.equal(true);
    fc.assert(fc.property(mutatedFrame, assertResult), { numRuns: RUNS });
  });

  it('NDP with mutated flags, target and options but a valid checksum always gives a result', () => {
    let parsedSome = false;
    fc.assert(
      fc.property(mutatedNdpWithValidChecksum, (frame) => {
        assertResult(frame);
        parsedSome ||= parseFrame(frame).ok;
      }),
      { numRuns: RUNS },
    );
    expect(parsedSome, 'some mutations keep a valid NS/NA').to.equal(true);
  });
});
