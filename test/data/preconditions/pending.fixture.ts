// Run by test/integration/support/preconditions.test.ts: a test skipped without the helper.
describe('a suite with a test skipped by hand', function () {
  it('runs', () => undefined);
  it('is skipped', function () {
    this.skip();
  });
});
