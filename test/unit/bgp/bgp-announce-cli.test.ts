import { expect } from 'chai';
import { formatPrefix, parsePrefix } from '../../../src/bgp/codec/index.ts';
import { parseAnnounceOptions, parseControlLine, parsePrefixFile, type AnnounceCliOptions } from '../../../src/cli/bgp-announce.ts';

const base: AnnounceCliOptions = { peer: '192.0.2.1', peerAs: '64512', localAs: '65001', source: '192.0.2.11' };

describe('anchorlb bgp-announce options', () => {
  it('builds the peer, attributes and prefixes from the options', () => {
    const setup = parseAnnounceOptions(
      { ...base, prefix: ['203.0.113.10/32'], community: ['65001:100', 'no-export'], largeCommunity: ['65001:1:2'], gracefulRestart: true, restartTime: '60', holdTime: '9' },
      [parsePrefix('2001:db8:ff::10/128')],
    );
    expect(setup.routerId).to.equal('192.0.2.11');
    expect(setup.localAsn).to.equal(65001);
    expect(setup.peer).to.deep.include({ peerAddress: '192.0.2.1', peerAsn: 64512, sourceAddress: '192.0.2.11', holdTimeSec: 9, gracefulRestart: { restartTimeSec: 60, restarted: false } });
    expect(setup.prefixes.map(formatPrefix)).to.deep.equal(['203.0.113.10/32', '2001:db8:ff::10/128']);
    expect(setup.attributes.communities).to.deep.equal([65001 * 65536 + 100, 0xffffff01]);
    expect(setup.attributes.largeCommunities).to.deep.equal([{ globalAdmin: 65001, localData1: 1, localData2: 2 }]);
  });

  it('names the option and the value it cannot use', () => {
    const cases: Array<[Partial<AnnounceCliOptions>, string]> = [
      [{ peer: 'router' }, '--peer: "router"'],
      [{ peerAs: '-1' }, '--peer-as: "-1"'],
      [{ localAs: '4294967296' }, '--local-as: "4294967296"'],
      [{ source: undefined }, '--router-id is required'],
      [{ prefix: ['203.0.113.10/33'] }, '--prefix: prefix "203.0.113.10/33"'],
      [{ community: ['65001:70000'] }, '--community:'],
      [{ port: '70000' }, '--port: "70000"'],
      [{ holdTime: 'x' }, '--hold-time: "x"'],
    ];
    for (const [override, message] of cases) expect(() => parseAnnounceOptions({ ...base, ...override })).to.throw(message);
  });

  it('reads a prefix file, skipping blanks and comments, naming the line of a bad entry', () => {
    expect(parsePrefixFile('# VIPs\n203.0.113.1/32\n\n  2001:db8::1/128  \n', 'vips.txt').map(formatPrefix)).to.deep.equal(['203.0.113.1/32', '2001:db8::1/128']);
    expect(() => parsePrefixFile('203.0.113.1/32\n203.0.113.300/32', 'vips.txt')).to.throw('--prefix-file vips.txt line 2:');
  });

  it('parses control commands from stdin', () => {
    expect(parseControlLine('announce 203.0.113.1/32 2001:db8::1/128')).to.have.property('type', 'announce');
    expect(parseControlLine('withdraw 203.0.113.1')).to.deep.include({ type: 'withdraw' });
    expect(parseControlLine('shutdown going away now')).to.deep.equal({ type: 'shutdown', communication: 'going away now' });
    expect(parseControlLine('  ')).to.equal(undefined);
    expect(() => parseControlLine('announce 300.1.1.1/32')).to.throw('announce:');
    expect(() => parseControlLine('frobnicate')).to.throw('unknown command "frobnicate"');
  });
});
