import type { BgpMessage, CodecOptions, DecodeResult } from './types.ts';

/** Thrown by encoders for values that cannot go on the wire; the message names the field and value. */
export class BgpEncodeError extends Error {
  override name = 'BgpEncodeError';
}

/** Encodes one message, header included. */
export function encodeMessage(message: BgpMessage, _opts: CodecOptions): Buffer {
  throw new BgpEncodeError(`encoding ${message.type} is not implemented yet`);
}

/** Decodes one whole message (header included). Never throws. */
export function decodeMessage(bytes: Buffer, _opts: CodecOptions): DecodeResult {
  return { ok: false, error: { code: 1, subcode: 3, data: bytes.subarray(18, 19), reason: 'decoder not implemented yet' } };
}
