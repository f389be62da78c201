import type { BgpDecodeError } from './types.ts';

export function decodeError(code: number, subcode: number, reason: string, data: Buffer = Buffer.alloc(0)): BgpDecodeError {
  return { code, subcode, data, reason };
}

/** Type guard for results that are either a value or a decode error. */
export function isDecodeError(value: unknown): value is BgpDecodeError {
  return typeof value === 'object' && value !== null && 'code' in value && 'subcode' in value && 'reason' in value;
}
