// Run by test/integration/support/preconditions.test.ts: a suite whose precondition is missing.
import { requireOrSkip } from '../../support/preconditions.ts';

describe('a suite needing something this machine lacks', function () {
  before(function () {
    requireOrSkip(this, false, 'needs the flux capacitor');
  });
  it('would use it', () => undefined);
});
