import { expect } from 'chai';
import { runFuzz } from './run.ts';

/** `make test` runs a fast subset; `npm run fuzz:bgp` sets BGP_FUZZ_INPUTS=1000000. */
const INPUTS = Number(process.env.BGP_FUZZ_INPUTS ?? 30_000);
const SEED = Number(process.env.BGP_FUZZ_SEED ?? 20261125);
/** Per input (decode, re-encode, framing, session layer): microseconds normally; a loop is caught here, not by hanging CI. */
const BUDGET_MS = Number(process.env.BGP_FUZZ_BUDGET_MS ?? 2_000);

describe('bgp codec fuzz: random and mutated messages', function () {
  // A bound for the whole run, far above what it needs (the per-input budget catches a stuck input first).
  this.timeout(60_000 + INPUTS * 2);

  it(`decodeMessage, the framer and the session layer never throw and only produce registered errors (${INPUTS} inputs, seed ${SEED})`, async () => {
    const report = await runFuzz(INPUTS, SEED, BUDGET_MS);
    const problems = report.escapes.length + report.unstable.length + report.sessionProblems.length;
    // The record of a run (npm run fuzz:bgp): what to set to reproduce it, and its result.
    console.log(
      `      bgp fuzz: BGP_FUZZ_SEED=${SEED} BGP_FUZZ_INPUTS=${report.inputs}: ${report.decoded} decoded, ${report.errors} errors, ` +
        `${report.established} sessions Established, ${report.escapes.length} escapes, ${report.unstable.length} unstable re-encodes, ` +
        `${report.sessionProblems.length} session-layer problems; slowest input ${report.slowest.index} (${report.slowest.ms.toFixed(1)} ms, budget ${BUDGET_MS} ms): ${problems === 0 ? 'PASS' : 'FAIL'}`,
    );
    expect(report.escapes.slice(0, 5)).to.deep.equal([]);
    expect(report.unstable.slice(0, 5)).to.deep.equal([]);
    expect(report.sessionProblems.slice(0, 5)).to.deep.equal([]);
    // Mutations must reach both outcomes and get sessions past the OPEN exchange, or the fuzz is not exercising the parsers.
    expect(report.decoded).to.be.above(INPUTS / 20);
    expect(report.errors).to.be.above(INPUTS / 20);
    expect(report.established).to.be.above(0);
  });
});
