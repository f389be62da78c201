/**
 * What a test needs from the machine (root, kubectl, …). Outside CI a missing precondition
 * skips the suite and says why on stderr; in CI (CI=true) it is a failure naming what is
 * missing: a CI run that skipped what it could not do would still end green. Any other skip
 * fails a CI run too (.mocharc.cjs: forbid-pending).
 */
import { existsSync } from 'node:fs';
import { KUBECTL_PATH } from './apiserver.ts';

/** Whether this run is CI's (as .mocharc.cjs decides it). */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === 'true';
}

/** Skips the running test or hook's suite when `met` is false (throws in CI), naming what is missing. */
export function requireOrSkip(context: Mocha.Context, met: boolean, missing: string, env: NodeJS.ProcessEnv = process.env): void {
  if (met) return;
  if (inCi(env)) throw new Error(`in CI a missing precondition is a failure, not a skip: ${missing}`);
  // In a before hook (titled "before all" / "before each"): the suite it skips; in a test: that test.
  const runnable = context.test;
  const title = (runnable?.title.startsWith('"before') === true ? runnable.parent?.fullTitle() : runnable?.fullTitle()) ?? '';
  process.stderr.write(`      SKIPPED ${title}: ${missing}\n`);
  context.skip();
}

export function requireRoot(context: Mocha.Context): void {
  requireOrSkip(context, process.getuid?.() === 0, 'needs root (network namespaces); run as root, as `make test` does');
}

export function requireKubectl(context: Mocha.Context): void {
  requireOrSkip(context, existsSync(KUBECTL_PATH), `needs kubectl at ${KUBECTL_PATH}; run "make setup-kubectl"`);
}
