import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { decodeMessage, encodeMessage, isKnownErrorCode, MessageFramer } from '../../../src/bgp/codec/index.ts';
import type { CodecOptions, DecodeResult } from '../../../src/bgp/codec/index.ts';
import { anyMessage } from '../../unit/bgp/codec/arbitraries.ts';
import { captured, frrNotifications } from '../../unit/bgp/codec/captured-messages.ts';
import { seededRandom as random } from '../../support/random.ts';

const OPTIONS: CodecOptions[] = [
  { fourOctetAs: true, extendedMessages: false, ebgp: true },
  { fourOctetAs: false, extendedMessages: false, ebgp: false },
  { fourOctetAs: true, extendedMessages: true, ebgp: false },
  { fourOctetAs: false, extendedMessages: true, ebgp: true },
];
/** Values that sit on boundaries of length and type fields. */
const INTERESTING = [0, 1, 2, 3, 4, 5, 6, 7, 8, 15, 16, 17, 18, 19, 23, 29, 32, 33, 64, 127, 128, 129, 254, 255];

export interface FuzzReport {
  readonly inputs: number;
  readonly decoded: number;
  readonly errors: number;
  /** Exceptions thrown by decodeMessage or the framer, or errors with an unregistered (code, subcode). */
  readonly escapes: string[];
  /** Decoded messages that did not re-encode to bytes decoding to the same message. */
  readonly unstable: string[];
}

function seeds(seed: number): Buffer[] {
  const fromRouters = [...Object.values(captured).flat(), ...Object.values(frrNotifications).map((c) => c.sent)].map((text) => Buffer.from(text, 'hex'));
  const generated = fc.sample(anyMessage(true), { numRuns: 200, seed }).flatMap((message) => {
    try {
      return [encodeMessage(message, { fourOctetAs: true, extendedMessages: false, ebgp: false })];
    } catch {
      return []; // Too large for 4096 octets: not a useful seed.
    }
  });
  return [...fromRouters, ...generated];
}

function mutate(input: Buffer, rand: () => number, pool: Buffer[]): Buffer {
  let bytes = Buffer.from(input);
  const pick = (n: number): number => Math.floor(rand() * n);
  const rounds = 1 + pick(4);
  for (let round = 0; round < rounds; round++) {
    const at = pick(Math.max(bytes.length, 1));
    switch (pick(8)) {
      case 0: bytes[at] = (bytes[at] ?? 0) ^ (1 << pick(8)); break;
      case 1: bytes[at] = INTERESTING[pick(INTERESTING.length)] as number; break;
      case 2: bytes[at] = pick(256); break;
      case 3: if (at + 1 < bytes.length) bytes.writeUInt16BE(pick(2) ? pick(65536) : (INTERESTING[pick(INTERESTING.length)] as number), at); break;
      case 4: bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(Array.from({ length: 1 + pick(8) }, () => pick(256))), bytes.subarray(at)]); break;
      case 5: bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + pick(8))]); break;
      case 6: bytes = bytes.subarray(0, at); break;
      default: {
        const other = pool[pick(pool.length)] as Buffer;
        const from = pick(Math.max(other.length, 1));
        bytes = Buffer.concat([bytes.subarray(0, at), other.subarray(from, from + 1 + pick(64))]);
      }
    }
  }
  // Mostly keep the header consistent, so mutations reach the body parsers.
  if (bytes.length >= 19 && rand() < 0.8) {
    bytes.fill(0xff, 0, 16);
    bytes.writeUInt16BE(Math.min(bytes.length, 0xffff), 16);
  }
  return bytes;
}

function randomMessage(rand: () => number): Buffer {
  const length = 19 + Math.floor(rand() * (rand() < 0.9 ? 120 : 5000));
  const bytes = Buffer.alloc(length);
  for (let i = 19; i < length; i++) bytes[i] = Math.floor(rand() * 256);
  bytes.fill(0xff, 0, 16);
  bytes.writeUInt16BE(length, 16);
  bytes[18] = 1 + Math.floor(rand() * 5);
  return bytes;
}

function describe(input: Buffer, problem: string): string {
  return `${problem} on ${input.toString('hex')}`;
}

function check(result: DecodeResult): string | undefined {
  if (typeof result !== 'object' || result === null || typeof result.ok !== 'boolean') return 'not a result value';
  if (result.ok) return undefined;
  const { code, subcode, data, reason } = result.error;
  if (!isKnownErrorCode(code, subcode)) return `unregistered error (${code}, ${subcode}): ${reason}`;
  if (!Buffer.isBuffer(data) || typeof reason !== 'string') return 'malformed error value';
  return undefined;
}

/** Runs `inputs` fuzz inputs: random messages and mutations of captured and generated ones, through decodeMessage and the framer. */
export function fuzzDecoder(inputs: number, seed: number): FuzzReport {
  const rand = random(seed);
  const pool = seeds(seed);
  const escapes: string[] = [];
  const unstable: string[] = [];
  let decoded = 0;
  let errors = 0;
  const framer = { current: new MessageFramer(), fed: 0 };
  for (let i = 0; i < inputs; i++) {
    const input = rand() < 0.2 ? randomMessage(rand) : mutate(pool[Math.floor(rand() * pool.length)] as Buffer, rand, pool);
    const opts = OPTIONS[i % OPTIONS.length] as CodecOptions;
    let result: DecodeResult;
    try {
      result = decodeMessage(input, opts);
    } catch (error) {
      escapes.push(describe(input, `threw ${String(error)}`));
      continue;
    }
    const problem = check(result);
    if (problem) escapes.push(describe(input, problem));
    if (!result.ok) {
      errors++;
    } else {
      decoded++;
      try {
        const again = decodeMessage(encodeMessage(result.message, { ...opts, extendedMessages: true }), { ...opts, extendedMessages: true });
        if (!again.ok || !isDeepStrictEqual(again.message, result.message)) unstable.push(describe(input, 're-encoded differently'));
      } catch (error) {
        unstable.push(describe(input, `re-encode threw ${String(error)}`));
      }
    }
    try {
      // The same bytes as a stream, in random chunks; a failed framer is replaced, as a session would reconnect.
      for (let at = 0; at < input.length;) {
        const size = 1 + Math.floor(rand() * 64);
        if (framer.current.push(input.subarray(at, at + size)).error) framer.current = new MessageFramer(rand() < 0.5);
        at += size;
      }
    } catch (error) {
      escapes.push(describe(input, `framer threw ${String(error)}`));
    }
  }
  return { inputs, decoded, errors, escapes, unstable };
}
