import { expect } from 'chai';
import fc from 'fast-check';
import { decodeMessage, encodeMessage, formatPrefix, MessageFramer, parsePrefix } from '../../../../src/bgp/codec/index.ts';
import type { BgpMessage, CodecOptions } from '../../../../src/bgp/codec/index.ts';
import {
  anyMessage, keepaliveMessage, notificationMessage, openMessage, prefix, routeRefreshMessage, updateMessage,
} from './arbitraries.ts';

function roundTrip(message: BgpMessage, opts: CodecOptions): void {
  const result = decodeMessage(encodeMessage(message, opts), opts);
  if (!result.ok) expect.fail(`${result.error.reason} for ${JSON.stringify(message, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
  expect(result.warnings).to.deep.equal([]);
  expect(result.message).to.deep.equal(message);
}

const RUNS = { numRuns: 300 };

describe('bgp codec: encode → decode is the identity', () => {
  it('OPEN, with any mix of capabilities (several parameters, RFC 9072 lengths when needed)', () => {
    fc.assert(fc.property(openMessage, (open) => roundTrip(open, { fourOctetAs: false, extendedMessages: false })), RUNS);
  });

  for (const fourOctetAs of [true, false]) {
    it(`UPDATE with every modelled attribute, ${fourOctetAs ? '4-octet' : '2-octet (AS4_PATH / AS4_AGGREGATOR)'} AS session`, () => {
      const opts: CodecOptions = { fourOctetAs, extendedMessages: true, ebgp: false };
      fc.assert(fc.property(updateMessage(fourOctetAs), (update) => roundTrip(update, opts)), RUNS);
    });
  }

  it('NOTIFICATION, KEEPALIVE and ROUTE-REFRESH', () => {
    const opts: CodecOptions = { fourOctetAs: true, extendedMessages: false };
    fc.assert(fc.property(fc.oneof(notificationMessage, keepaliveMessage, routeRefreshMessage), (m) => roundTrip(m, opts)), RUNS);
  });

  it('prefixes: formatPrefix → parsePrefix is the identity for both families', () => {
    fc.assert(fc.property(fc.oneof(prefix(4), prefix(6)), (p) => {
      expect(parsePrefix(formatPrefix(p))).to.deep.equal(p);
    }), { numRuns: 1000 });
  });

  it('the framer yields the same messages however the stream is cut into chunks', () => {
    const opts: CodecOptions = { fourOctetAs: true, extendedMessages: true, ebgp: false };
    fc.assert(fc.property(
      fc.array(anyMessage(true), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }),
      (messages, cuts) => {
        const stream = Buffer.concat(messages.map((m) => encodeMessage(m, opts)));
        const framer = new MessageFramer(true);
        const received: Buffer[] = [];
        let offset = 0;
        for (let i = 0; offset < stream.length; i++) {
          const size = cuts[i % cuts.length] as number;
          const output = framer.push(stream.subarray(offset, offset + size));
          expect(output.error).to.equal(undefined);
          received.push(...output.messages);
          offset += size;
        }
        expect(framer.bufferedLength).to.equal(0);
        expect(received.map((m) => decodeMessage(m, opts))).to.deep.equal(messages.map((m) => ({ ok: true, message: m, warnings: [] })));
      },
    ), { numRuns: 100 });
  });
});
