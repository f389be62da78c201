/**
 * Prometheus' own checker (Debian's `prometheus` package, installed by `make setup`):
 * an exposition or a rules file that promtool refuses fails the test with promtool's words.
 */
import { existsSync } from 'node:fs';
import { requireOrSkip } from './preconditions.ts';
import { run } from './testbed.ts';

export const PROMTOOL = '/usr/bin/promtool';

export function requirePromtool(context: Mocha.Context): void {
  requireOrSkip(context, existsSync(PROMTOOL), `needs ${PROMTOOL} (Debian's prometheus package); run "make setup"`);
}

/**
 * prom-client's default Node.js gauges are named `nodejs_active_*_total`, which promtool's
 * lint rejects for a gauge; they are the library's, not ours (Node.js dashboards key on them).
 */
const LIBRARY_LINT = /^nodejs_active_\w+_total non-counter metrics should not have "_total" suffix$/;

/** `promtool check metrics` on a scrape: the exposition parses and our series follow Prometheus' naming rules. */
export async function promtoolCheckMetrics(exposition: string): Promise<void> {
  const result = await run([PROMTOOL, 'check', 'metrics'], { input: exposition, allowFailure: true });
  const problems = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.trim() !== '' && !LIBRARY_LINT.test(line));
  if (result.code !== 0 && problems.length > 0) throw new Error(`promtool check metrics refused the scrape:\n${problems.join('\n')}`);
}
