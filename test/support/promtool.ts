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

/** The value of one sample in an exposition: the series `name` whose labels include `labels`; undefined when there is none. */
export function sampleOf(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const has = new Map([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => has.get(key) === value)) return Number(match[3]);
  }
  return undefined;
}
