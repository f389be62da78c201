// In CI (CI=true) a skipped test fails the run (mocha's forbid-pending), whatever skipped it:
// a run that could not do something must not end green. Outside CI skips are allowed and
// named (test/support/preconditions.ts says why on stderr; the closing line counts them).
module.exports = {
  'node-option': ['import=tsx'],
  extension: ['ts'],
  reporter: './test/support/reporter.cjs',
  timeout: 20000,
  recursive: true,
  'forbid-pending': process.env.CI === 'true',
};
