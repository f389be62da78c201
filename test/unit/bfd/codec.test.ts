import { expect } from 'chai';
import fc from 'fast-check';
import { BfdDiag, BfdEncodeError, BfdState, decodeControl, encodeControl, type ControlPacket } from '../../../src/bfd/codec.ts';
import { anyControlPacket, downPacket } from './packets.ts';

describe('bfd codec', () => {
  it('round-trips every valid Control packet through 24 bytes', () => {
    fc.assert(
      fc.property(anyControlPacket, (packet) => {
        const bytes = encodeControl(packet);
        expect(bytes.length).to.equal(24);
        expect(decodeControl(bytes)).to.deep.equal({ ok: true, packet });
      }),
    );
  });

  it('lays out the fields of RFC 5880 §4.1 (an FRR Up packet with F, 300 ms timers)', () => {
    const packet: ControlPacket = {
      diag: BfdDiag.None,
      state: BfdState.Up,
      poll: false,
      final: true,
      controlPlaneIndependent: false,
      demand: false,
      detectMult: 3,
      myDiscriminator: 0x01020304,
      yourDiscriminator: 0x0a0b0c0d,
      desiredMinTxUs: 300_000,
      requiredMinRxUs: 300_000,
      requiredMinEchoRxUs: 0,
    };
    expect(encodeControl(packet).toString('hex')).to.equal('20d0031801020304' + '0a0b0c0d' + '000493e0' + '000493e0' + '00000000');
  });

  it('accepts a longer datagram and a Length above 24 without authentication, reading the first 24 bytes', () => {
    const bytes = Buffer.concat([encodeControl({ ...downPacket(), detectMult: 5 }), Buffer.from([1, 2, 3, 4])]);
    bytes[3] = 28;
    const result = decodeControl(bytes);
    expect(result.ok && result.packet.detectMult).to.equal(5);
  });

  it('refuses to encode a value that does not fit, naming the field', () => {
    expect(() => encodeControl({ ...downPacket(), detectMult: 256 })).to.throw(BfdEncodeError, 'detectMult: 256');
    expect(() => encodeControl({ ...downPacket(), desiredMinTxUs: -1 })).to.throw(BfdEncodeError, 'desiredMinTxUs: -1');
    expect(() => encodeControl({ ...downPacket(), diag: 32 as BfdDiag })).to.throw(BfdEncodeError, 'diag: 32');
    expect(() => encodeControl({ ...downPacket(), poll: true, final: true })).to.throw(BfdEncodeError, 'both P and F');
  });
});
