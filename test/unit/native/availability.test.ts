import { expect } from 'chai';
import { hasEffectiveCapability } from '../../../src/native/index.ts';

const CAP_NET_RAW = 13;

function status(capEff: string): string {
  return ['Name:\tnode', 'CapInh:\t0000000000000000', 'CapPrm:\t000001ffffffffff', `CapEff:\t${capEff}`, 'CapBnd:\t000001ffffffffff'].join('\n');
}

describe('native: capability check from /proc/self/status', () => {
  it('sees CAP_NET_RAW in a root mask and in a mask with only that bit', () => {
    expect(hasEffectiveCapability(status('000001ffffffffff'), CAP_NET_RAW)).to.equal(true);
    expect(hasEffectiveCapability(status('0000000000002000'), CAP_NET_RAW)).to.equal(true);
  });

  // a80405fb: Docker's default set without CAP_NET_RAW.
  it('misses it when the bit is clear, the line is absent or malformed', () => {
    expect(hasEffectiveCapability(status('0000000000000000'), CAP_NET_RAW)).to.equal(false);
    expect(hasEffectiveCapability(status('00000000a80405fb'), CAP_NET_RAW)).to.equal(false);
    expect(hasEffectiveCapability('Name:\tnode\n', CAP_NET_RAW)).to.equal(false);
    expect(hasEffectiveCapability(status('zz'), CAP_NET_RAW)).to.equal(false);
  });
});
