import { InvalidArgumentError } from 'commander';

/** A TCP/UDP port flag (0 = any); a commander argument parser, so a bad value names the flag. */
export function parsePort(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new InvalidArgumentError(`expected an integer from 0 to 65535, got ${JSON.stringify(text)}`);
  return Number(text);
}
