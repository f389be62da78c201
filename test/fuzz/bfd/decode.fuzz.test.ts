import { expect } from 'chai';
import fc from 'fast-check';
import { BfdState, decodeControl, encodeControl } from '../../../src/bfd/codec.ts';
import { demux, type DemuxSession } from '../../../src/bfd/demux.ts';
import { anyControlPacket } from '../../unit/bfd/packets.ts';

/** `make test` runs a fast subset; BFD_FUZZ_RUNS raises it for a long run. */
const RUNS = Number(process.env.BFD_FUZZ_RUNS ?? 10_000);

/** One way of breaking a valid packet per RFC 5880 §6.8.6 rule that the codec enforces. */
const breakers: Record<string, (bytes: Buffer, pick: number) => Buffer> = {
  version: (b, pick) => {
    b[0] = (b[0]! & 0x1f) | ((pick % 7 >= 1 ? (pick % 7) + 1 : 0) << 5); // any version but 1
    return b;
  },
  'length below 24': (b, pick) => {
    b[3] = pick % 24;
    return b;
  },
  'length beyond the datagram': (b, pick) => {
    b[3] = 25 + (pick % 231);
    return b;
  },
  'truncated datagram': (b, pick) => b.subarray(0, pick % 24),
  'detect mult 0': (b) => {
    b[2] = 0;
    return b;
  },
  multipoint: (b) => {
    b[1] = b[1]! | 0x01;
    return b;
  },
  'my discriminator 0': (b) => {
    b.writeUInt32BE(0, 4);
    return b;
  },
  'your discriminator 0 in Init or Up': (b, pick) => {
    b[1] = (b[1]! & 0x3f) | ((pick % 2 === 0 ? BfdState.Init : BfdState.Up) << 6);
    b.writeUInt32BE(0, 8);
    return b;
  },
  'auth bit without authentication configured': (b, pick) => {
    // A well-formed Simple Password section, so only the configuration mismatch is wrong.
    const auth = Buffer.from([1, 3 + (pick % 4), 1, ...Buffer.from('abcd').subarray(0, pick % 4)]);
    const out = Buffer.concat([b, auth]);
    out[1] = out[1]! | 0x04;
    out[3] = out.length;
    return out;
  },
};

describe('bfd codec fuzz: RFC 5880 §6.8.6 discards', function () {
  this.timeout(0);

  for (const [rule, breakPacket] of Object.entries(breakers)) {
    it(`discards every packet with ${rule}`, () => {
      fc.assert(
        fc.property(anyControlPacket, fc.nat(), (packet, pick) => {
          const result = decodeControl(breakPacket(encodeControl(packet), pick));
          expect(result.ok).to.equal(false);
        }),
        { numRuns: 500 },
      );
    });
  }

  it(`never throws on random or mutated bytes; whatever it accepts satisfies every rule and re-encodes to itself (${RUNS} inputs)`, () => {
    const mutated = fc.tuple(anyControlPacket, fc.array(fc.tuple(fc.nat(63), fc.nat(255)), { maxLength: 4 }), fc.nat(40)).map(([packet, edits, cut]) => {
      const bytes = Buffer.concat([encodeControl(packet), Buffer.alloc(cut % 8)]);
      for (const [at, value] of edits) if (at < bytes.length) bytes[at] = value;
      return bytes.subarray(0, cut > 32 ? cut - 16 : bytes.length);
    });
    let accepted = 0;
    let discarded = 0;
    fc.assert(
      fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a))), (bytes) => {
        const result = decodeControl(bytes);
        if (!result.ok) {
          discarded++;
          expect(result.reason).to.be.a('string').and.not.equal('');
          return;
        }
        accepted++;
        const p = result.packet;
        expect(bytes[0]! >> 5, 'version').to.equal(1);
        expect(bytes[3]!).to.be.within(24, bytes.length);
        expect(p.detectMult).to.be.above(0);
        expect(bytes[1]! & 0x05, 'M and A clear').to.equal(0);
        expect(p.myDiscriminator).to.be.above(0);
        if (p.state === BfdState.Init || p.state === BfdState.Up) expect(p.yourDiscriminator).to.be.above(0);
        if (!(p.poll && p.final)) expect(encodeControl(p).equals(Buffer.concat([bytes.subarray(0, 3), Buffer.from([24]), bytes.subarray(4, 24)]))).to.equal(true);
      }),
      { numRuns: RUNS },
    );
    console.log(`      bfd fuzz: ${RUNS} inputs, ${accepted} accepted, ${discarded} discarded`);
    expect(accepted).to.be.above(RUNS / 50);
    expect(discarded).to.be.above(RUNS / 50);
  });
});

describe('bfd demux: session selection and TTL (RFC 5880 §6.8.6, RFC 5881, RFC 5883)', () => {
  const single: DemuxSession = { localDiscriminator: 10, peerAddress: '192.0.2.1', localAddress: '192.0.2.11', multihop: false, minimumTtl: 255 };
  const multi: DemuxSession = { localDiscriminator: 20, peerAddress: '2001:db8::1', localAddress: '2001:db8::11', multihop: true, minimumTtl: 254 };
  const sessions = [single, multi];
  const arrive = (peerAddress: string, localAddress: string, multihop: boolean, ttl: number) => ({ peerAddress, localAddress, multihop, ttl });

  it('discards a non-zero Your Discriminator that selects no session, or one arriving from another peer or port', () => {
    fc.assert(
      fc.property(anyControlPacket, fc.integer({ min: 1, max: 0xffffffff }), (packet, your) => {
        const result = demux({ ...packet, yourDiscriminator: your }, arrive('192.0.2.1', '192.0.2.11', false, 255), sessions);
        expect(result.ok).to.equal(your === 10);
      }),
    );
    const packet = { ...fc.sample(anyControlPacket, 1)[0]!, yourDiscriminator: 10 };
    expect(demux(packet, arrive('192.0.2.99', '192.0.2.11', false, 255), sessions)).to.deep.include({ ok: false });
    expect(demux(packet, arrive('192.0.2.1', '192.0.2.11', true, 255), sessions)).to.deep.include({ ok: false });
  });

  it('matches by addresses while Your Discriminator is 0', () => {
    const packet = { ...fc.sample(anyControlPacket, 1)[0]!, state: BfdState.Down, yourDiscriminator: 0 };
    expect(demux(packet, arrive('2001:db8::1', '2001:db8::11', true, 254), sessions)).to.deep.equal({ ok: true, session: multi });
    expect(demux(packet, arrive('192.0.2.1', '192.0.2.12', false, 255), sessions).ok).to.equal(false);
  });

  it('single hop accepts only TTL 255; multihop accepts TTL ≥ its minimum', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1, max: 255 }), (ttl) => {
        const packet = { ...fc.sample(anyControlPacket, 1)[0]!, yourDiscriminator: 0, state: BfdState.Down };
        expect(demux(packet, arrive('192.0.2.1', '192.0.2.11', false, ttl), sessions).ok).to.equal(ttl === 255);
        expect(demux(packet, arrive('2001:db8::1', '2001:db8::11', true, ttl), sessions).ok).to.equal(ttl >= 254);
      }),
      { numRuns: 300 },
    );
  });
});
