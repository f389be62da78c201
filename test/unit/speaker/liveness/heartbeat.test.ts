import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import { decodeHeartbeat, encodeHeartbeat, MAX_HEARTBEAT_BYTES, type Heartbeat } from '../../../../src/speaker/liveness/heartbeat.ts';

const key = Buffer.from('0123456789abcdef0123456789abcdef');
const heartbeatArbitrary: fc.Arbitrary<Heartbeat> = fc.record({
  node: fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,60}[a-z0-9])?$/),
  incarnation: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  sequence: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  sentAt: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  leaving: fc.boolean(),
  interfaces: fc.array(fc.stringMatching(/^[a-z][a-z0-9.-]{0,14}$/), { maxLength: 32 }),
});

describe('speaker/liveness: heartbeat codec', () => {
  it('decodes what it encodes, with the same key', () => {
    fc.assert(
      fc.property(heartbeatArbitrary, (heartbeat) => {
        const datagram = encodeHeartbeat(heartbeat, key);
        expect(datagram.length).to.be.at.most(MAX_HEARTBEAT_BYTES);
        expect(decodeHeartbeat(datagram, key)).to.deep.equal({ ok: true, heartbeat });
      }),
    );
  });

  it('refuses a heartbeat signed with another key', () => {
    fc.assert(
      fc.property(heartbeatArbitrary, (heartbeat) => {
        const datagram = encodeHeartbeat(heartbeat, Buffer.from('another key entirely'));
        expect(decodeHeartbeat(datagram, key)).to.deep.equal({ ok: false, reason: 'unauthenticated' });
      }),
    );
  });

  it('refuses any single flipped bit (a forged or damaged datagram)', () => {
    fc.assert(
      fc.property(heartbeatArbitrary, fc.nat(), fc.integer({ min: 0, max: 7 }), (heartbeat, at, bit) => {
        const datagram = encodeHeartbeat(heartbeat, key);
        const index = at % datagram.length;
        datagram[index] = (datagram[index] as number) ^ (1 << bit);
        expect(decodeHeartbeat(datagram, key).ok).to.equal(false);
      }),
    );
  });

  it('never throws on arbitrary bytes from the network (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: MAX_HEARTBEAT_BYTES + 16 }), (bytes) => {
        const result = decodeHeartbeat(Buffer.from(bytes), key);
        expect(result.ok).to.equal(false);
      }),
      { numRuns: 20_000 },
    );
  });

  it('never throws on correctly signed garbage, or on signed valid heartbeats with mutated bodies (fuzz past the MAC)', () => {
    // The wire format's MAC: HMAC-SHA256 over the body, first 16 bytes appended.
    const sign = (body: Buffer) => Buffer.concat([body, createHmac('sha256', key).update(body).digest().subarray(0, 16)]);
    fc.assert(
      fc.property(heartbeatArbitrary, fc.uint8Array({ maxLength: 400 }), fc.nat(), fc.nat({ max: 255 }), fc.boolean(), (heartbeat, garbage, at, value, useGarbage) => {
        let body: Buffer;
        if (useGarbage) body = Buffer.from(garbage);
        else {
          const valid = encodeHeartbeat(heartbeat, key);
          body = Buffer.from(valid.subarray(0, valid.length - 16));
          body[at % body.length] = value;
          body = body.subarray(0, body.length - (at % 3));
        }
        const result = decodeHeartbeat(sign(body), key);
        if (result.ok) expect(encodeHeartbeat(result.heartbeat, key).equals(sign(body))).to.equal(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('refuses names and interface lists that no receiver could accept, naming the value', () => {
    const base: Heartbeat = { node: 'n', incarnation: 1n, sequence: 1n, sentAt: 0n, leaving: false, interfaces: [] };
    expect(() => encodeHeartbeat({ ...base, node: '' }, key)).to.throw(/node name ""/);
    expect(() => encodeHeartbeat({ ...base, interfaces: ['an-interface-name-too-long'] }, key)).to.throw(/an-interface-name-too-long/);
  });
});
