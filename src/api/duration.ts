/** Go duration syntax (time.ParseDuration), as MetalLB and Kubernetes write durations: 90s, 1m30s, 500ms, 1.5h. */
import type { ParseError } from './net.ts';

const UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  'µs': 1e-6,
  'μs': 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

const TERM = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Seconds in a non-negative Go duration; "0" alone is allowed, as in Go. */
export function parseDuration(text: string): number | ParseError {
  if (text === '0') return 0;
  if (text.startsWith('-')) return { error: 'duration must not be negative' };
  const body = text.startsWith('+') ? text.slice(1) : text;
  if (body === '') return { error: 'not a duration (e.g. 90s, 1m30s, 500ms)' };
  let seconds = 0;
  TERM.lastIndex = 0;
  while (TERM.lastIndex < body.length) {
    const match = TERM.exec(body);
    if (!match) return { error: 'not a duration (e.g. 90s, 1m30s, 500ms)' };
    seconds += Number(match[1]) * (UNIT_SECONDS[match[2] ?? ''] ?? Number.NaN);
  }
  return seconds;
}
