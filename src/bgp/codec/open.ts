import { decodeCapabilities, encodeCapability } from './capabilities.ts';
import { AS_TRANS, BGP_VERSION, ErrorCode, OpenErrorSubcode } from './constants.ts';
import { BgpEncodeError, checkUint } from './encode-error.ts';
import { decodeError, isDecodeError } from './errors.ts';
import { encodeIpv4 } from './addresses.ts';
import { formatAddress } from './prefix.ts';
import type { BgpDecodeError, Capability, CodecOptions, OpenMessage } from './types.ts';

const CAPABILITIES_PARAMETER = 2;
/** RFC 9072: an Optional Parameters Length of 255 followed by this type means 2-octet lengths. */
const EXTENDED_PARAMETERS = 255;

export interface OpenParameters {
  readonly asn: number;
  readonly holdTimeSec: number;
  readonly bgpIdentifier: string;
  /** Capabilities besides 4-octet AS, which buildOpen always adds with `asn`. */
  readonly capabilities: readonly Capability[];
}

/** An OPEN for `asn`: AS_TRANS in My AS when the ASN needs 4 octets, and the 4-octet AS capability. */
export function buildOpen(params: OpenParameters): OpenMessage {
  return {
    type: 'open',
    version: BGP_VERSION,
    myAs: params.asn > 0xffff ? AS_TRANS : params.asn,
    holdTimeSec: params.holdTimeSec,
    bgpIdentifier: params.bgpIdentifier,
    capabilities: [...params.capabilities.filter((c) => c.kind !== 'fourOctetAs'), { kind: 'fourOctetAs', asn: params.asn }],
  };
}

/** The peer's real ASN: from the 4-octet AS capability when present, else My AS. */
export function openAsn(open: OpenMessage): number {
  const fourOctet = open.capabilities.find((c) => c.kind === 'fourOctetAs');
  return fourOctet?.asn ?? open.myAs;
}

/** Codec options for a session given both OPENs (a capability counts when both sides sent it). */
export function negotiateOptions(local: OpenMessage, remote: OpenMessage): CodecOptions {
  const both = (kind: Capability['kind']): boolean =>
    local.capabilities.some((c) => c.kind === kind) && remote.capabilities.some((c) => c.kind === kind);
  return { fourOctetAs: both('fourOctetAs'), extendedMessages: both('extendedMessage'), ebgp: openAsn(local) !== openAsn(remote) };
}

/** The OPEN body (after the header). Capabilities go in as few parameters as fit; RFC 9072 lengths when they must. */
export function encodeOpenBody(open: OpenMessage): Buffer {
  if (open.version !== BGP_VERSION) throw new BgpEncodeError(`open version: ${open.version}, only ${BGP_VERSION} is supported`);
  const holdTime = checkUint(open.holdTimeSec, 0xffff, 'open holdTimeSec');
  if (holdTime === 1 || holdTime === 2) throw new BgpEncodeError(`open holdTimeSec: ${holdTime} (must be 0 or at least 3)`);
  const parameterValues: Buffer[] = [];
  let current: Buffer[] = [];
  let currentLength = 0;
  for (const capability of open.capabilities) {
    const encoded = encodeCapability(capability);
    if (currentLength + encoded.length > 255) {
      parameterValues.push(Buffer.concat(current));
      current = [];
      currentLength = 0;
    }
    current.push(encoded);
    currentLength += encoded.length;
  }
  if (current.length > 0) parameterValues.push(Buffer.concat(current));
  const shortForm = parameterValues.reduce((sum, value) => sum + 2 + value.length, 0);
  const extended = shortForm > 255;
  const parameters = Buffer.concat(parameterValues.map((value) => {
    const head = extended ? Buffer.from([CAPABILITIES_PARAMETER, value.length >> 8, value.length & 0xff])
      : Buffer.from([CAPABILITIES_PARAMETER, value.length]);
    return Buffer.concat([head, value]);
  }));
  const fixed = Buffer.alloc(extended ? 13 : 10);
  fixed[0] = open.version;
  fixed.writeUInt16BE(checkUint(open.myAs, 0xffff, 'open myAs'), 1);
  fixed.writeUInt16BE(holdTime, 3);
  encodeIpv4(open.bgpIdentifier, 'open bgpIdentifier').copy(fixed, 5);
  if (extended) {
    fixed[9] = 255;
    fixed[10] = EXTENDED_PARAMETERS;
    fixed.writeUInt16BE(checkUint(parameters.length, 0xffff, 'open parameters length'), 11);
  } else {
    fixed[9] = parameters.length;
  }
  return Buffer.concat([fixed, parameters]);
}

function openError(subcode: number, reason: string, data?: Buffer): BgpDecodeError {
  return decodeError(ErrorCode.open, subcode, reason, data);
}

/** Decodes an OPEN body (the caller checked it is at least 10 octets). */
export function decodeOpenBody(body: Buffer): OpenMessage | BgpDecodeError {
  const version = body[0] as number;
  if (version !== BGP_VERSION) {
    // RFC 4271 §6.2: the data is the largest version we support.
    return openError(OpenErrorSubcode.unsupportedVersionNumber, `open version: ${version}, only 4 is supported`, Buffer.from([0, BGP_VERSION]));
  }
  const myAs = body.readUInt16BE(1);
  const holdTimeSec = body.readUInt16BE(3);
  if (holdTimeSec === 1 || holdTimeSec === 2) {
    return openError(OpenErrorSubcode.unacceptableHoldTime, `open hold time: ${holdTimeSec} s (must be 0 or at least 3)`);
  }
  const identifier = body.readUInt32BE(5);
  if (identifier === 0) return openError(OpenErrorSubcode.badBgpIdentifier, 'open BGP identifier: 0.0.0.0');
  let parametersLength = body[9] as number;
  let offset = 10;
  let lengthOctets = 1;
  if (parametersLength === 255 && body[10] === EXTENDED_PARAMETERS) {
    if (body.length < 13) return openError(OpenErrorSubcode.unspecific, 'open: extended optional parameters length truncated');
    parametersLength = body.readUInt16BE(11);
    offset = 13;
    lengthOctets = 2;
  }
  if (offset + parametersLength !== body.length) {
    return openError(OpenErrorSubcode.unspecific, `open optional parameters length: ${parametersLength}, but ${body.length - offset} octets follow`);
  }
  const capabilities: Capability[] = [];
  while (offset < body.length) {
    if (offset + 1 + lengthOctets > body.length) return openError(OpenErrorSubcode.unspecific, `open optional parameter at offset ${offset}: header truncated`);
    const type = body[offset] as number;
    const length = lengthOctets === 2 ? body.readUInt16BE(offset + 1) : (body[offset + 1] as number);
    const start = offset + 1 + lengthOctets;
    if (start + length > body.length) {
      return openError(OpenErrorSubcode.unspecific, `open optional parameter type ${type}: length ${length} overruns the message`);
    }
    if (type !== CAPABILITIES_PARAMETER) {
      return openError(OpenErrorSubcode.unsupportedOptionalParameter, `open optional parameter type ${type} is not supported`);
    }
    const decoded = decodeCapabilities(body.subarray(start, start + length));
    if (isDecodeError(decoded)) return decoded;
    capabilities.push(...decoded);
    offset = start + length;
  }
  return { type: 'open', version, myAs, holdTimeSec, bgpIdentifier: formatAddress(4, BigInt(identifier)), capabilities };
}
