import { expect } from 'chai';
import {
  describeError, encodeMessage, isKnownErrorCode, shutdownCommunication, shutdownNotification,
} from '../../../../src/bgp/codec/index.ts';
import type { BgpDecodeError, CodecOptions } from '../../../../src/bgp/codec/index.ts';
import { decodeFails, decodeOk, decodeUpdate, FOUR_OCTET, hex, message, rawUpdate, TWO_OCTET } from './helpers.ts';

const IBGP: CodecOptions = { ...FOUR_OCTET, ebgp: false };

function attr(flags: number, type: number, value: string): Buffer {
  const bytes = hex(value);
  return Buffer.concat([Buffer.from([flags, type, bytes.length]), bytes]);
}
const ORIGIN_IGP = attr(0x40, 1, '00');
const AS_PATH_65001 = attr(0x40, 2, '02 01 0000fde9');
const NEXT_HOP = attr(0x40, 3, 'c0000201');
const NLRI_198_51_100_0_24 = hex('18 c63364');
const MANDATORY = Buffer.concat([ORIGIN_IGP, AS_PATH_65001, NEXT_HOP]);

function expectError(error: BgpDecodeError, code: number, subcode: number, data?: string): void {
  expect([error.code, error.subcode], error.reason).to.deep.equal([code, subcode]);
  expect(isKnownErrorCode(error.code, error.subcode)).to.equal(true);
  if (data !== undefined) expect(error.data.toString('hex')).to.equal(data.replace(/\s+/g, ''));
}

const openBody = (version: number, holdTime: number, identifier: string, parameters: string): Buffer => {
  const params = hex(parameters);
  const fixed = Buffer.alloc(10);
  fixed[0] = version;
  fixed.writeUInt16BE(65001, 1);
  fixed.writeUInt16BE(holdTime, 3);
  hex(identifier).copy(fixed, 5);
  fixed[9] = params.length;
  return Buffer.concat([fixed, params]);
};

describe('bgp codec: errors are values with the code, subcode and data RFC 4271 §6 prescribes', () => {
  describe('message header (code 1)', () => {
    it('a marker that is not all ones: Connection Not Synchronized', () => {
      const bytes = encodeMessage({ type: 'keepalive' }, FOUR_OCTET);
      bytes[3] = 0;
      expectError(decodeFails(bytes), 1, 1);
    });
    it('a length under 19 or over 4096: Bad Message Length with the length field as data', () => {
      const short = encodeMessage({ type: 'keepalive' }, FOUR_OCTET);
      short.writeUInt16BE(18, 16);
      expectError(decodeFails(short), 1, 2, '0012');
      const long = message(2, Buffer.alloc(4078));
      expectError(decodeFails(long), 1, 2, '1001');
    });
    it('an UPDATE over 4096 octets is fine once extended messages are negotiated; an OPEN never is', () => {
      const update = rawUpdate(Buffer.alloc(0), MANDATORY, Buffer.concat(Array.from({ length: 1000 }, () => hex('20 c6336401'))));
      expect(update.length).to.be.above(4096);
      expect(decodeUpdate(update, { ...FOUR_OCTET, extendedMessages: true }).nlri).to.have.length(1000);
      const open = message(1, Buffer.concat([openBody(4, 90, 'c0000201', ''), Buffer.alloc(4100)]));
      expectError(decodeFails(open, { ...FOUR_OCTET, extendedMessages: true }), 1, 2);
    });
    it('a type other than 1..5: Bad Message Type with the type as data', () => {
      expectError(decodeFails(message(6, Buffer.alloc(0))), 1, 3, '06');
    });
    it('a KEEPALIVE with a body, or an OPEN / NOTIFICATION too short for their fields: Bad Message Length', () => {
      expectError(decodeFails(message(4, Buffer.alloc(1))), 1, 2, '0014');
      expectError(decodeFails(message(1, Buffer.alloc(9))), 1, 2, '001c');
      expectError(decodeFails(message(3, Buffer.alloc(1))), 1, 2, '0014');
    });
    it('a ROUTE-REFRESH of the wrong length: ROUTE-REFRESH Message Error with the whole message (RFC 7313)', () => {
      const bytes = message(5, hex('0001 00 01 ff'));
      expectError(decodeFails(bytes), 7, 1, bytes.toString('hex'));
    });
  });

  describe('OPEN (code 2)', () => {
    it('version 3: Unsupported Version Number with our version as data', () => {
      expectError(decodeFails(message(1, openBody(3, 90, 'c0000201', ''))), 2, 1, '0004');
    });
    it('hold time 1 or 2: Unacceptable Hold Time; 0 and 3 are fine', () => {
      expectError(decodeFails(message(1, openBody(4, 2, 'c0000201', ''))), 2, 6);
      expect(decodeOk(message(1, openBody(4, 0, 'c0000201', ''))).message).to.include({ holdTimeSec: 0 });
      expect(decodeOk(message(1, openBody(4, 3, 'c0000201', ''))).message).to.include({ holdTimeSec: 3 });
    });
    it('identifier 0.0.0.0: Bad BGP Identifier', () => {
      expectError(decodeFails(message(1, openBody(4, 90, '00000000', ''))), 2, 3);
    });
    it('an optional parameter other than capabilities: Unsupported Optional Parameter', () => {
      expectError(decodeFails(message(1, openBody(4, 90, 'c0000201', '01 02 0000'))), 2, 4);
    });
    it('capabilities that overrun their parameter, or a known one with a bad length: OPEN error, Unspecific', () => {
      expectError(decodeFails(message(1, openBody(4, 90, 'c0000201', '02 04 0104 0001'))), 2, 0);
      expectError(decodeFails(message(1, openBody(4, 90, 'c0000201', '02 05 0103 000101'))), 2, 0);
      expectError(decodeFails(message(1, openBody(4, 90, 'c0000201', '02 04 4102 0001'))), 2, 0);
    });
    it('an optional parameters length that disagrees with the message: OPEN error', () => {
      const body = openBody(4, 90, 'c0000201', '02 02 0200');
      body[9] = 3;
      expectError(decodeFails(message(1, Buffer.concat([body, hex('00')]).subarray(0, body.length))), 2, 0);
    });
    it('reads RFC 9072 extended optional parameter lengths', () => {
      const body = Buffer.concat([openBody(4, 90, 'c0000201', ''), hex('ff 0005 02 0002 0200')]);
      body[9] = 255;
      expect(decodeOk(message(1, body)).message).to.deep.include({ capabilities: [{ kind: 'routeRefresh' }] });
    });
    it('a malformed hostname capability is kept as received instead of failing the session', () => {
      const open = decodeOk(message(1, openBody(4, 90, 'c0000201', '02 04 4902 0561'))).message;
      expect(open).to.deep.include({ capabilities: [{ kind: 'unknown', code: 73, value: hex('0561') }] });
    });
  });

  describe('UPDATE (code 3): session reset cases', () => {
    it('Withdrawn Routes Length or Total Path Attribute Length overrunning the message: Malformed Attribute List', () => {
      expectError(decodeFails(message(2, hex('0005 c0 00'))), 3, 1);
      expectError(decodeFails(message(2, hex('0000 0009 400101'))), 3, 1);
    });
    it('a prefix longer than 32 bits or cut short in NLRI / withdrawn routes: Invalid Network Field', () => {
      expectError(decodeFails(rawUpdate(Buffer.alloc(0), MANDATORY, hex('21 c0000201ff'))), 3, 10);
      expectError(decodeFails(rawUpdate(hex('18 c633'), Buffer.alloc(0), Buffer.alloc(0))), 3, 10);
    });
    it('an unrecognized well-known attribute: Unrecognized Well-known Attribute with the attribute as data', () => {
      expectError(decodeFails(rawUpdate(Buffer.alloc(0), attr(0x40, 100, 'abcd'), Buffer.alloc(0))), 3, 2, '4064 02 abcd');
    });
    it('MP_REACH_NLRI or MP_UNREACH_NLRI twice: Malformed Attribute List (RFC 7606 §3 g)', () => {
      const unreach = attr(0x80, 15, '0002 01');
      expectError(decodeFails(rawUpdate(Buffer.alloc(0), Buffer.concat([unreach, unreach]), Buffer.alloc(0))), 3, 1);
    });
    it('MP_REACH_NLRI with a next hop length that does not fit or a bad prefix: Optional Attribute Error with the attribute', () => {
      const badNextHop = attr(0x80, 14, '0002 01 05 2001db8000 00');
      expectError(decodeFails(rawUpdate(Buffer.alloc(0), Buffer.concat([ORIGIN_IGP, AS_PATH_65001, badNextHop]), Buffer.alloc(0))), 3, 9, badNextHop.toString('hex'));
      const badPrefix = attr(0x80, 14, `0002 01 10 20010db8000000000000000000000001 00 81 ${'00'.repeat(17)}`);
      expectError(decodeFails(rawUpdate(Buffer.alloc(0), Buffer.concat([ORIGIN_IGP, AS_PATH_65001, badPrefix]), Buffer.alloc(0))), 3, 9);
    });
    it('an MP_REACH_NLRI whose length overruns the attributes: Attribute Length Error', () => {
      const overrun = hex('80 0e 30 0002 01 10');
      expectError(decodeFails(rawUpdate(Buffer.alloc(0), overrun, Buffer.alloc(0))), 3, 5);
    });
  });

  describe('UPDATE: RFC 7606 treat-as-withdraw and attribute discard', () => {
    const withdrawCases: [string, Buffer][] = [
      ['ORIGIN 3', Buffer.concat([attr(0x40, 1, '03'), AS_PATH_65001, NEXT_HOP])],
      ['ORIGIN of 2 octets', Buffer.concat([attr(0x40, 1, '0000'), AS_PATH_65001, NEXT_HOP])],
      ['AS_PATH segment overrunning the attribute', Buffer.concat([ORIGIN_IGP, attr(0x40, 2, '02 02 0000fde9'), NEXT_HOP])],
      ['AS_PATH segment type 5', Buffer.concat([ORIGIN_IGP, attr(0x40, 2, '05 01 0000fde9'), NEXT_HOP])],
      ['AS_PATH empty segment', Buffer.concat([ORIGIN_IGP, attr(0x40, 2, '02 00'), NEXT_HOP])],
      ['NEXT_HOP of 5 octets', Buffer.concat([ORIGIN_IGP, AS_PATH_65001, attr(0x40, 3, 'c000020101')])],
      ['missing NEXT_HOP', Buffer.concat([ORIGIN_IGP, AS_PATH_65001])],
      ['missing ORIGIN', Buffer.concat([AS_PATH_65001, NEXT_HOP])],
      ['MED of 3 octets', Buffer.concat([MANDATORY, attr(0x80, 4, '000001')])],
      ['COMMUNITIES of 6 octets', Buffer.concat([MANDATORY, attr(0xc0, 8, '0000fde90001')])],
      ['EXTENDED_COMMUNITIES of 7 octets', Buffer.concat([MANDATORY, attr(0xc0, 16, '00020000fde900')])],
      ['LARGE_COMMUNITY of 10 octets', Buffer.concat([MANDATORY, attr(0xc0, 32, '0000fde9000000010000')])],
      ['ORIGIN flagged optional', Buffer.concat([attr(0xc0, 1, '00'), AS_PATH_65001, NEXT_HOP])],
      ['an attribute overrunning the attributes field', Buffer.concat([MANDATORY, hex('c0 08 08 0000fde9')])],
    ];
    for (const [name, attributes] of withdrawCases) {
      it(`${name}: the announced prefixes come back as withdrawn`, () => {
        const { message: update, warnings } = decodeOk(rawUpdate(hex('10 0a00'), attributes, NLRI_198_51_100_0_24));
        expect(warnings.map((w) => w.action)).to.include('treat-as-withdraw');
        expect(update).to.deep.equal({
          type: 'update',
          withdrawn: [{ family: 4, address: 0x0a000000n, length: 16 }, { family: 4, address: 0xc6336400n, length: 24 }],
          attributes: {},
          nlri: [],
        });
      });
    }

    it('treat-as-withdraw moves MP_REACH_NLRI prefixes to MP_UNREACH_NLRI', () => {
      const reach = attr(0x80, 14, '0002 01 10 20010db8000000000000000000000001 00 30 20010db80100');
      const { message: update, warnings } = decodeOk(rawUpdate(Buffer.alloc(0), Buffer.concat([AS_PATH_65001, reach]), Buffer.alloc(0)));
      expect(warnings).to.deep.equal([{ action: 'treat-as-withdraw', attributeType: 1, reason: 'missing well-known attribute ORIGIN' }]);
      expect(update).to.deep.equal({
        type: 'update', withdrawn: [], nlri: [],
        attributes: { mpUnreach: { afi: 2, safi: 1, withdrawn: [{ family: 6, address: 0x20010db8010000000000000000000000n, length: 48 }] } },
      });
    });

    it('an UPDATE that only withdraws needs no attributes and gets no warning', () => {
      expect(decodeOk(rawUpdate(hex('18 c63364'), Buffer.alloc(0), Buffer.alloc(0))).warnings).to.deep.equal([]);
    });

    it('LOCAL_PREF from an eBGP peer is discarded; from an iBGP peer it is kept', () => {
      const bytes = rawUpdate(Buffer.alloc(0), Buffer.concat([MANDATORY, attr(0x40, 5, '00000064')]), NLRI_198_51_100_0_24);
      const ebgp = decodeOk(bytes);
      expect(ebgp.warnings.map((w) => w.action)).to.deep.equal(['attribute-discard']);
      expect(ebgp.message).to.have.nested.property('attributes.nextHop', '192.0.2.1');
      expect(ebgp.message).not.to.have.nested.property('attributes.localPref');
      expect(decodeUpdate(bytes, IBGP).attributes.localPref).to.equal(100);
    });

    it('ATOMIC_AGGREGATE with a value and AGGREGATOR of 7 octets are discarded, the route kept', () => {
      const bytes = rawUpdate(Buffer.alloc(0), Buffer.concat([MANDATORY, attr(0x40, 6, '00'), attr(0xc0, 7, '0000fde9c00002')]), NLRI_198_51_100_0_24);
      const { message: update, warnings } = decodeOk(bytes);
      expect(warnings.map((w) => [w.action, w.attributeType])).to.deep.equal([['attribute-discard', 6], ['attribute-discard', 7]]);
      expect(update).to.have.property('nlri').with.length(1);
      expect(update).not.to.have.nested.property('attributes.aggregator');
    });

    it('a repeated attribute keeps the first', () => {
      const bytes = rawUpdate(Buffer.alloc(0), Buffer.concat([MANDATORY, attr(0xc0, 8, '0000fde9'), attr(0xc0, 8, '0000fdea')]), NLRI_198_51_100_0_24);
      const { message: update, warnings } = decodeOk(bytes);
      expect(warnings.map((w) => w.action)).to.deep.equal(['attribute-discard']);
      expect(update).to.have.deep.nested.property('attributes.communities', [0xfde9]);
    });

    it('a malformed AS4_PATH is discarded and the 2-octet AS_PATH used (RFC 6793 §6)', () => {
      const bytes = rawUpdate(Buffer.alloc(0), Buffer.concat([ORIGIN_IGP, attr(0x40, 2, '02 01 5ba0'), NEXT_HOP, attr(0xc0, 17, '02 02 fa56ea00')]), NLRI_198_51_100_0_24);
      const { message: update, warnings } = decodeOk(bytes, TWO_OCTET);
      expect(warnings.map((w) => [w.action, w.attributeType])).to.deep.equal([['attribute-discard', 17]]);
      expect(update).to.have.deep.nested.property('attributes.asPath', [{ type: 'sequence', asns: [23456] }]);
    });

    it('an AS4_PATH shorter than AS_PATH is prepended with the leading ASNs of AS_PATH', () => {
      const bytes = rawUpdate(Buffer.alloc(0), Buffer.concat([ORIGIN_IGP, attr(0x40, 2, '02 03 fde9 5ba0 fdea'), NEXT_HOP, attr(0xc0, 17, '02 02 fa56ea00 0000fdea')]), NLRI_198_51_100_0_24);
      expect(decodeUpdate(bytes, TWO_OCTET).attributes.asPath).to.deep.equal([{ type: 'sequence', asns: [65001] }, { type: 'sequence', asns: [4200000000, 65002] }]);
    });

    it('unknown optional transitive attributes are kept as received; MP_REACH of an unmodelled family too', () => {
      const unknownFamily = attr(0x80, 14, '0019 46 04 c0000201 00 00');
      const bytes = rawUpdate(Buffer.alloc(0), Buffer.concat([MANDATORY, unknownFamily, attr(0xe0, 99, 'beef')]), NLRI_198_51_100_0_24);
      const { message: update, warnings } = decodeOk(bytes);
      expect(warnings).to.deep.equal([]);
      expect(update).to.have.deep.nested.property('attributes.unknown', [
        { flags: 0x80, typeCode: 14, value: hex('0019 46 04 c0000201 00 00') },
        { flags: 0xe0, typeCode: 99, value: hex('beef') },
      ]);
    });
  });

  describe('NOTIFICATION', () => {
    it('carries an RFC 8203 shutdown communication both ways, cut at 255 octets on a character boundary', () => {
      const notification = shutdownNotification(2, 'maintenance: node drained ✓');
      expect(shutdownCommunication(decodeOk(encodeMessage(notification, FOUR_OCTET)).message as typeof notification)).to.equal('maintenance: node drained ✓');
      const long = shutdownNotification(4, 'é'.repeat(200));
      expect(long.data[0]).to.equal(254);
      expect(shutdownCommunication(long)).to.equal('é'.repeat(127));
    });
    it('ignores a communication whose length overruns the data or that is not UTF-8', () => {
      expect(shutdownCommunication({ type: 'notification', code: 6, subcode: 2, data: hex('05 6869') })).to.equal(undefined);
      expect(shutdownCommunication({ type: 'notification', code: 6, subcode: 2, data: hex('02 c328') })).to.equal(undefined);
      expect(shutdownCommunication({ type: 'notification', code: 6, subcode: 3, data: hex('02 6869') })).to.equal(undefined);
    });
    it('names every code and subcode for logs', () => {
      expect(describeError(6, 2)).to.equal('Cease / Administrative Shutdown');
      expect(describeError(3, 11)).to.equal('UPDATE Message Error / Malformed AS_PATH');
      expect(describeError(5, 1)).to.equal('Finite State Machine Error / Receive Unexpected Message in OpenSent State');
      expect(describeError(9, 9)).to.equal('error code 9 subcode 9');
      expect(isKnownErrorCode(6, 11)).to.equal(false);
    });
  });
});
