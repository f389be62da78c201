import { expect } from 'chai';
import { fuzzDecoder } from './fuzz.ts';

/** `make test` runs a fast subset; `npm run fuzz:bgp` sets BGP_FUZZ_INPUTS=1000000. */
const INPUTS = Number(process.env.BGP_FUZZ_INPUTS ?? 30_000);
const SEED = Number(process.env.BGP_FUZZ_SEED ?? 20261125);

describe('bgp codec fuzz: random and mutated messages', function () {
  this.timeout(0);

  it(`decodeMessage and the framer never throw and only return registered errors (${INPUTS} inputs, seed ${SEED})`, () => {
    const report = fuzzDecoder(INPUTS, SEED);
    console.log(`      bgp fuzz: ${report.inputs} inputs, ${report.decoded} decoded, ${report.errors} errors, ${report.escapes.length} escapes, ${report.unstable.length} unstable re-encodes`);
    expect(report.escapes.slice(0, 5)).to.deep.equal([]);
    expect(report.unstable.slice(0, 5)).to.deep.equal([]);
    // Mutations must reach both outcomes, or the fuzz is not exercising the parsers.
    expect(report.decoded).to.be.above(INPUTS / 20);
    expect(report.errors).to.be.above(INPUTS / 20);
  });
});
