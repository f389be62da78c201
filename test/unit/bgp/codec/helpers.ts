import { expect } from 'chai';
import { decodeMessage } from '../../../../src/bgp/codec/index.ts';
import type { BgpDecodeError, BgpMessage, CodecOptions, DecodeWarning, UpdateMessage } from '../../../../src/bgp/codec/index.ts';

export const FOUR_OCTET: CodecOptions = { fourOctetAs: true, extendedMessages: false };
export const TWO_OCTET: CodecOptions = { fourOctetAs: false, extendedMessages: false };

export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** Decodes and fails the test with the decoder's reason when it does not decode. */
export function decodeOk(bytes: Buffer, opts: CodecOptions = FOUR_OCTET): { message: BgpMessage; warnings: readonly DecodeWarning[] } {
  const result = decodeMessage(bytes, opts);
  if (!result.ok) expect.fail(`decode failed: ${result.error.reason}`);
  return result;
}

export function decodeUpdate(bytes: Buffer, opts: CodecOptions = FOUR_OCTET): UpdateMessage {
  const { message } = decodeOk(bytes, opts);
  if (message.type !== 'update') expect.fail(`expected an update, got ${message.type}`);
  return message;
}

export function decodeFails(bytes: Buffer, opts: CodecOptions = FOUR_OCTET): BgpDecodeError {
  const result = decodeMessage(bytes, opts);
  if (result.ok) expect.fail(`expected an error, decoded ${JSON.stringify(result.message, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
  return result.error;
}

/** A whole message around `body`. */
export function message(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(19, 0xff);
  header.writeUInt16BE(19 + body.length, 16);
  header[18] = type;
  return Buffer.concat([header, body]);
}

/** An UPDATE from raw parts: withdrawn routes, path attributes, NLRI. */
export function rawUpdate(withdrawn: Buffer, attributes: Buffer, nlri: Buffer): Buffer {
  const lengths = Buffer.alloc(4);
  lengths.writeUInt16BE(withdrawn.length, 0);
  const body = Buffer.concat([lengths.subarray(0, 2), withdrawn, Buffer.from([attributes.length >> 8, attributes.length & 0xff]), attributes, nlri]);
  return message(2, body);
}
