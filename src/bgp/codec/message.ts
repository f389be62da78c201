import {
  ErrorCode, HEADER_LENGTH, HeaderErrorSubcode, MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH, MessageTypeCode,
  RouteRefreshErrorSubcode,
} from './constants.ts';
import { BgpEncodeError, checkUint } from './encode-error.ts';
import { decodeError, isDecodeError } from './errors.ts';
import { decodeOpenBody, encodeOpenBody } from './open.ts';
import { decodeUpdateBody, encodeUpdateBody } from './update.ts';
import type { BgpDecodeError, BgpMessage, CodecOptions, DecodeResult } from './types.ts';

export { BgpEncodeError };

/** Smallest whole message per type (RFC 4271 §4, RFC 2918). */
const MIN_LENGTH: ReadonlyMap<number, number> = new Map([
  [MessageTypeCode.open, 29],
  [MessageTypeCode.update, 23],
  [MessageTypeCode.notification, 21],
  [MessageTypeCode.keepalive, 19],
  [MessageTypeCode.routeRefresh, 23],
]);

/** The largest message the options allow. */
export function maxMessageLength(opts: Pick<CodecOptions, 'extendedMessages'>): number {
  return opts.extendedMessages ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
}

/** A whole message: marker, length, type, body. */
export function frame(type: number, body: Buffer, maxLength: number): Buffer {
  const length = HEADER_LENGTH + body.length;
  if (length > maxLength) throw new BgpEncodeError(`message type ${type}: ${length} octets exceed the ${maxLength}-octet limit`);
  const message = Buffer.alloc(length);
  message.fill(0xff, 0, 16);
  message.writeUInt16BE(length, 16);
  message[18] = type;
  body.copy(message, HEADER_LENGTH);
  return message;
}

/** Encodes one message, header included. Throws BgpEncodeError for values that cannot be encoded. */
export function encodeMessage(message: BgpMessage, opts: CodecOptions): Buffer {
  switch (message.type) {
    case 'open':
      // RFC 8654 §3: OPEN stays within 4096 octets whatever was negotiated.
      return frame(MessageTypeCode.open, encodeOpenBody(message), MAX_MESSAGE_LENGTH);
    case 'update':
      return frame(MessageTypeCode.update, encodeUpdateBody(message, opts), maxMessageLength(opts));
    case 'notification': {
      const head = Buffer.from([checkUint(message.code, 0xff, 'notification code'), checkUint(message.subcode, 0xff, 'notification subcode')]);
      return frame(MessageTypeCode.notification, Buffer.concat([head, message.data]), maxMessageLength(opts));
    }
    case 'keepalive':
      return frame(MessageTypeCode.keepalive, Buffer.alloc(0), MAX_MESSAGE_LENGTH);
    case 'routeRefresh': {
      const body = Buffer.alloc(4);
      body.writeUInt16BE(checkUint(message.afi, 0xffff, 'routeRefresh afi'), 0);
      body[2] = checkUint(message.subtype, 0xff, 'routeRefresh subtype');
      body[3] = checkUint(message.safi, 0xff, 'routeRefresh safi');
      return frame(MessageTypeCode.routeRefresh, body, MAX_MESSAGE_LENGTH);
    }
    default: {
      const unexpected: { type?: unknown } = message;
      throw new BgpEncodeError(`message type: ${String(unexpected.type)} is not one of open, update, notification, keepalive, routeRefresh`);
    }
  }
}

function headerError(subcode: number, reason: string, data?: Buffer): DecodeResult {
  return { ok: false, error: decodeError(ErrorCode.messageHeader, subcode, reason, data) };
}

function lengthField(length: number): Buffer {
  return Buffer.from([length >> 8, length & 0xff]);
}

/** Checks a message header (19 octets or more): marker all ones, length within 19..max. Returns the length or the error. */
export function checkHeader(bytes: Buffer, maxLength: number): number | BgpDecodeError {
  for (let i = 0; i < 16; i++) {
    if (bytes[i] !== 0xff) return decodeError(ErrorCode.messageHeader, HeaderErrorSubcode.connectionNotSynchronized, `header marker octet ${i} is 0x${(bytes[i] ?? 0).toString(16)}, expected 0xff`);
  }
  const length = bytes.readUInt16BE(16);
  if (length < HEADER_LENGTH || length > maxLength) {
    return decodeError(ErrorCode.messageHeader, HeaderErrorSubcode.badMessageLength, `header length ${length} is not ${HEADER_LENGTH}..${maxLength}`, lengthField(length));
  }
  return length;
}

/**
 * Decodes one whole message (header included). Never throws: malformed input yields
 * `{ ok: false, error }` with the NOTIFICATION code, subcode and data RFC 4271 §6 prescribes.
 */
export function decodeMessage(bytes: Buffer, opts: CodecOptions): DecodeResult {
  try {
    return decodeChecked(bytes, opts);
  } catch (error) {
    // Every read is bounds-checked above; reaching this is a decoder bug, reported as a value
    // (and counted as an escape by the fuzz test) rather than taking the session down.
    return { ok: false, error: decodeError(ErrorCode.messageHeader, 0, `decoder bug: ${String(error)}`) };
  }
}

function decodeChecked(bytes: Buffer, opts: CodecOptions): DecodeResult {
  if (bytes.length < HEADER_LENGTH) return headerError(HeaderErrorSubcode.badMessageLength, `message of ${bytes.length} octets is shorter than the ${HEADER_LENGTH}-octet header`, lengthField(bytes.length));
  const length = checkHeader(bytes, maxMessageLength(opts));
  if (isDecodeError(length)) return { ok: false, error: length };
  if (length !== bytes.length) return headerError(HeaderErrorSubcode.badMessageLength, `header length ${length} but ${bytes.length} octets given`, lengthField(length));
  const type = bytes[18] as number;
  const minLength = MIN_LENGTH.get(type);
  if (minLength === undefined) return headerError(HeaderErrorSubcode.badMessageType, `message type ${type} is not 1..5`, Buffer.from([type]));
  if (type === MessageTypeCode.routeRefresh && length !== 23) {
    // RFC 7313 §5: the data is the whole offending message.
    return { ok: false, error: decodeError(ErrorCode.routeRefresh, RouteRefreshErrorSubcode.invalidMessageLength, `ROUTE-REFRESH length ${length}, expected 23`, Buffer.from(bytes)) };
  }
  if (length < minLength || (type === MessageTypeCode.keepalive && length !== HEADER_LENGTH)
    || ((type === MessageTypeCode.open || type === MessageTypeCode.keepalive) && length > MAX_MESSAGE_LENGTH)) {
    return headerError(HeaderErrorSubcode.badMessageLength, `message type ${type}: length ${length} is not allowed`, lengthField(length));
  }
  switch (type) {
    case MessageTypeCode.open: {
      const open = decodeOpenBody(bytes.subarray(HEADER_LENGTH));
      return isDecodeError(open) ? { ok: false, error: open } : { ok: true, message: open, warnings: [] };
    }
    case MessageTypeCode.update: {
      const update = decodeUpdateBody(bytes, HEADER_LENGTH, length, opts);
      return isDecodeError(update) ? { ok: false, error: update } : { ok: true, message: update.message, warnings: update.warnings };
    }
    case MessageTypeCode.notification:
      return { ok: true, message: { type: 'notification', code: bytes[19] as number, subcode: bytes[20] as number, data: Buffer.from(bytes.subarray(21)) }, warnings: [] };
    case MessageTypeCode.keepalive:
      return { ok: true, message: { type: 'keepalive' }, warnings: [] };
    default:
      return { ok: true, message: { type: 'routeRefresh', afi: bytes.readUInt16BE(19), subtype: bytes[21] as number, safi: bytes[22] as number }, warnings: [] };
  }
}
