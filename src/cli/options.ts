import { InvalidArgumentError } from 'commander';

/** A TCP/UDP port flag (0 = any); a commander argument parser, so a bad value names the flag. */
export function parsePort(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new InvalidArgumentError(`expected an integer from 0 to 65535, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** A bad flag or flag value found by a command itself; `message` starts with the flag. Exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Exit status of a command line that could not be used (a bad flag, an unknown option or command). */
export const EXIT_USAGE = 2;

/**
 * The one line every `anchorlb` command prints for a bad command line: `anchorlb CMD: --flag: why`.
 * Takes commander's errors (their `code` and `message`) and the commands' own UsageError. Pure.
 */
export function usageLine(command: string | undefined, error: { code?: string; message: string }): string {
  const prefix = command === undefined ? 'anchorlb' : `anchorlb ${command}`;
  const text = error.message.replace(/^error: /, '');
  // commander: "option '--metrics-port <port>' argument 'x' is invalid. expected …"
  const invalid = error.code === 'commander.invalidArgument' ? /^option '(-\S*?)(?:,\s*(--\S+))?(?: [<[][^']*)?' argument '[^]*' is invalid\. ([^]*)$/.exec(text) : null;
  if (invalid) return `${prefix}: ${invalid[2] ?? invalid[1]}: ${invalid[3]}`;
  return `${prefix}: ${text}`;
}
