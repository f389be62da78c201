import { expect } from 'chai';
import { encodeMessage, MessageFramer } from '../../../../src/bgp/codec/index.ts';
import { FOUR_OCTET } from './helpers.ts';

const KEEPALIVE = encodeMessage({ type: 'keepalive' }, FOUR_OCTET);

describe('bgp codec: message framer', () => {
  it('returns whole messages from one chunk holding several, and keeps a partial one for later', () => {
    const framer = new MessageFramer();
    const stream = Buffer.concat([KEEPALIVE, KEEPALIVE, KEEPALIVE]);
    const first = framer.push(stream.subarray(0, 45));
    expect(first.messages).to.deep.equal([KEEPALIVE, KEEPALIVE]);
    expect(framer.bufferedLength).to.equal(7);
    expect(framer.push(stream.subarray(45)).messages).to.deep.equal([KEEPALIVE]);
    expect(framer.bufferedLength).to.equal(0);
  });

  it('reports a bad marker as Connection Not Synchronized, and stays failed', () => {
    const framer = new MessageFramer();
    const bad = Buffer.from(KEEPALIVE);
    bad[0] = 0;
    const output = framer.push(Buffer.concat([KEEPALIVE, bad]));
    expect(output.messages).to.deep.equal([KEEPALIVE]);
    expect(output.error).to.include({ code: 1, subcode: 1 });
    expect(framer.push(KEEPALIVE)).to.deep.include({ messages: [] }).and.to.have.property('error');
  });

  it('checks length bounds as soon as the header is in: 4096 by default, 65535 with extended messages', () => {
    const header = Buffer.alloc(19, 0xff);
    header.writeUInt16BE(5000, 16);
    header[18] = 2;
    const output = new MessageFramer().push(header);
    expect(output.error).to.deep.include({ code: 1, subcode: 2, data: Buffer.from([0x13, 0x88]) });
    const extended = new MessageFramer();
    extended.setExtendedMessages(true);
    expect(extended.push(header)).to.deep.equal({ messages: [] });
    expect(extended.bufferedLength).to.equal(19);
  });

  it('takes a 65535-octet message one octet at a time and holds no more than that message', () => {
    const framer = new MessageFramer(true);
    const big = Buffer.alloc(65535, 0);
    big.fill(0xff, 0, 16);
    big.writeUInt16BE(65535, 16);
    big[18] = 2;
    let messages: Buffer[] = [];
    for (let i = 0; i < big.length; i++) {
      messages = framer.push(big.subarray(i, i + 1)).messages;
      expect(framer.bufferedLength).to.be.at.most(65535);
    }
    expect(messages).to.have.length(1);
    expect(messages[0]!.equals(big)).to.equal(true);
  });
});
