import { BgpEncodeError, checkUint } from './encode-error.ts';
import { CapabilityCode, ErrorCode, OpenErrorSubcode } from './constants.ts';
import { decodeError, isDecodeError } from './errors.ts';
import type { BgpDecodeError, Capability, GracefulRestartFamily } from './types.ts';

const GR_RESTART_STATE = 0x8;
const GR_NOTIFICATION = 0x4;
const GR_FORWARDING_PRESERVED = 0x80;

/** The value octets of one capability (without code and length). */
function encodeValue(capability: Capability): Buffer {
  switch (capability.kind) {
    case 'multiprotocol': {
      const value = Buffer.alloc(4);
      value.writeUInt16BE(checkUint(capability.afi, 0xffff, 'multiprotocol capability afi'), 0);
      value[3] = checkUint(capability.safi, 0xff, 'multiprotocol capability safi');
      return value;
    }
    case 'routeRefresh':
    case 'enhancedRouteRefresh':
    case 'extendedMessage':
      return Buffer.alloc(0);
    case 'fourOctetAs': {
      const value = Buffer.alloc(4);
      value.writeUInt32BE(checkUint(capability.asn, 0xffffffff, 'fourOctetAs capability asn'), 0);
      return value;
    }
    case 'gracefulRestart': {
      const value = Buffer.alloc(2 + 4 * capability.families.length);
      const time = checkUint(capability.restartTimeSec, 0xfff, 'gracefulRestart capability restartTimeSec');
      const flags = (capability.restartState ? GR_RESTART_STATE : 0) | (capability.notification ? GR_NOTIFICATION : 0);
      value.writeUInt16BE((flags << 12) | time, 0);
      capability.families.forEach((family, i) => {
        value.writeUInt16BE(checkUint(family.afi, 0xffff, 'gracefulRestart capability afi'), 2 + 4 * i);
        value[4 + 4 * i] = checkUint(family.safi, 0xff, 'gracefulRestart capability safi');
        value[5 + 4 * i] = family.forwardingPreserved ? GR_FORWARDING_PRESERVED : 0;
      });
      return value;
    }
    case 'fqdn': {
      const hostname = Buffer.from(capability.hostname, 'utf8');
      const domain = Buffer.from(capability.domain, 'utf8');
      if (hostname.length > 255 || domain.length > 255) {
        throw new BgpEncodeError(`fqdn capability: hostname "${capability.hostname}" or domain "${capability.domain}" exceeds 255 octets`);
      }
      return Buffer.concat([Buffer.from([hostname.length]), hostname, Buffer.from([domain.length]), domain]);
    }
    case 'unknown':
      checkUint(capability.code, 0xff, 'unknown capability code');
      return capability.value;
  }
}

function codeOf(capability: Capability): number {
  return capability.kind === 'unknown' ? capability.code : CapabilityCode[capability.kind];
}

/** One capability as code, length, value. */
export function encodeCapability(capability: Capability): Buffer {
  const value = encodeValue(capability);
  if (value.length > 255) throw new BgpEncodeError(`${capability.kind} capability: value of ${value.length} octets exceeds 255`);
  return Buffer.concat([Buffer.from([codeOf(capability), value.length]), value]);
}

function malformed(reason: string): BgpDecodeError {
  // RFC 4271 §6.2: a recognized but malformed optional parameter gets subcode 0 (Unspecific).
  return decodeError(ErrorCode.open, OpenErrorSubcode.unspecific, reason);
}

function decodeOne(code: number, value: Buffer): Capability | BgpDecodeError {
  switch (code) {
    case CapabilityCode.multiprotocol:
      if (value.length !== 4) return malformed(`multiprotocol capability: length ${value.length}, expected 4`);
      return { kind: 'multiprotocol', afi: value.readUInt16BE(0), safi: value[3] as number };
    case CapabilityCode.routeRefresh:
      return { kind: 'routeRefresh' };
    case CapabilityCode.enhancedRouteRefresh:
      return { kind: 'enhancedRouteRefresh' };
    case CapabilityCode.extendedMessage:
      return { kind: 'extendedMessage' };
    case CapabilityCode.fourOctetAs:
      if (value.length !== 4) return malformed(`fourOctetAs capability: length ${value.length}, expected 4`);
      return { kind: 'fourOctetAs', asn: value.readUInt32BE(0) };
    case CapabilityCode.gracefulRestart: {
      if (value.length < 2 || (value.length - 2) % 4 !== 0) {
        return malformed(`gracefulRestart capability: length ${value.length} is not 2 + 4n`);
      }
      const head = value.readUInt16BE(0);
      const families: GracefulRestartFamily[] = [];
      for (let offset = 2; offset < value.length; offset += 4) {
        families.push({
          afi: value.readUInt16BE(offset),
          safi: value[offset + 2] as number,
          forwardingPreserved: ((value[offset + 3] as number) & GR_FORWARDING_PRESERVED) !== 0,
        });
      }
      return {
        kind: 'gracefulRestart',
        restartState: ((head >> 12) & GR_RESTART_STATE) !== 0,
        notification: ((head >> 12) & GR_NOTIFICATION) !== 0,
        restartTimeSec: head & 0xfff,
        families,
      };
    }
    case CapabilityCode.fqdn: {
      const hostnameLength = value[0];
      const domainLength = hostnameLength === undefined ? undefined : value[1 + hostnameLength];
      if (hostnameLength === undefined || domainLength === undefined || 2 + hostnameLength + domainLength !== value.length) {
        // Informational only: keep it as received rather than fail the session.
        return { kind: 'unknown', code, value };
      }
      return {
        kind: 'fqdn',
        hostname: value.toString('utf8', 1, 1 + hostnameLength),
        domain: value.toString('utf8', 2 + hostnameLength, 2 + hostnameLength + domainLength),
      };
    }
    default:
      return { kind: 'unknown', code, value };
  }
}

/** Decodes the capabilities in the value of one Capabilities optional parameter (RFC 5492). */
export function decodeCapabilities(bytes: Buffer): Capability[] | BgpDecodeError {
  const capabilities: Capability[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 2 > bytes.length) return malformed(`capability at offset ${offset}: header truncated`);
    const code = bytes[offset] as number;
    const length = bytes[offset + 1] as number;
    if (offset + 2 + length > bytes.length) {
      return malformed(`capability code ${code}: length ${length} overruns the parameter (${bytes.length - offset - 2} octets left)`);
    }
    const decoded = decodeOne(code, Buffer.from(bytes.subarray(offset + 2, offset + 2 + length)));
    if (isDecodeError(decoded)) return decoded;
    capabilities.push(decoded);
    offset += 2 + length;
  }
  return capabilities;
}
