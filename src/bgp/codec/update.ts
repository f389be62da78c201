import { decodeAttributes, encodeAttributes, encodePrefixes } from './attributes.ts';
import { AttributeType, ErrorCode, UpdateErrorSubcode } from './constants.ts';
import { BgpEncodeError } from './encode-error.ts';
import { decodeError, isDecodeError } from './errors.ts';
import { readNlri } from './prefix.ts';
import type { BgpDecodeError, CodecOptions, DecodeWarning, MpUnreach, PathAttributes, UpdateMessage } from './types.ts';

/** The UPDATE body: Withdrawn Routes, Path Attributes, NLRI (each with its length). */
export function encodeUpdateBody(update: UpdateMessage, opts: CodecOptions): Buffer {
  const withdrawn = encodePrefixes(update.withdrawn, 4, 'update withdrawn');
  const attributes = encodeAttributes(update.attributes, opts);
  const nlri = encodePrefixes(update.nlri, 4, 'update nlri');
  if (withdrawn.length > 0xffff || attributes.length > 0xffff) {
    throw new BgpEncodeError(`update: withdrawn routes (${withdrawn.length} octets) or path attributes (${attributes.length} octets) exceed 65535`);
  }
  const body = Buffer.alloc(4 + withdrawn.length + attributes.length + nlri.length);
  body.writeUInt16BE(withdrawn.length, 0);
  withdrawn.copy(body, 2);
  body.writeUInt16BE(attributes.length, 2 + withdrawn.length);
  attributes.copy(body, 4 + withdrawn.length);
  nlri.copy(body, 4 + withdrawn.length + attributes.length);
  return body;
}

export interface DecodedUpdate {
  readonly message: UpdateMessage;
  readonly warnings: DecodeWarning[];
}

/** RFC 7606 treat-as-withdraw: every prefix the UPDATE announces becomes a withdrawal; other attributes go. */
function treatAsWithdraw(update: UpdateMessage): UpdateMessage | BgpDecodeError {
  const { mpReach, mpUnreach } = update.attributes;
  let withdrawnMp: MpUnreach | undefined = mpUnreach;
  if (mpReach) {
    if (mpUnreach && (mpUnreach.afi !== mpReach.afi || mpUnreach.safi !== mpReach.safi)) {
      // One UPDATE cannot carry withdrawals for both families: only a reset withdraws everything.
      return decodeError(ErrorCode.update, UpdateErrorSubcode.malformedAttributeList, 'malformed UPDATE announcing and withdrawing different families');
    }
    withdrawnMp = { afi: mpReach.afi, safi: mpReach.safi, withdrawn: [...(mpUnreach?.withdrawn ?? []), ...mpReach.nlri] };
  }
  const attributes: PathAttributes = withdrawnMp ? { mpUnreach: withdrawnMp } : {};
  return { type: 'update', withdrawn: [...update.withdrawn, ...update.nlri], attributes, nlri: [] };
}

/** Decodes an UPDATE body `bytes[start, end)`. */
export function decodeUpdateBody(bytes: Buffer, start: number, end: number, opts: CodecOptions): DecodedUpdate | BgpDecodeError {
  const malformed = (reason: string): BgpDecodeError => decodeError(ErrorCode.update, UpdateErrorSubcode.malformedAttributeList, reason);
  const withdrawnLength = bytes.readUInt16BE(start);
  const withdrawnEnd = start + 2 + withdrawnLength;
  if (withdrawnEnd + 2 > end) return malformed(`update withdrawn routes length ${withdrawnLength} overruns the message`);
  const attributesLength = bytes.readUInt16BE(withdrawnEnd);
  const attributesEnd = withdrawnEnd + 2 + attributesLength;
  if (attributesEnd > end) return malformed(`update total path attribute length ${attributesLength} overruns the message`);
  const withdrawn = readNlri(4, bytes, start + 2, withdrawnEnd);
  if (!withdrawn) return decodeError(ErrorCode.update, UpdateErrorSubcode.invalidNetworkField, 'update withdrawn routes: malformed prefix');
  const nlri = readNlri(4, bytes, attributesEnd, end);
  if (!nlri) return decodeError(ErrorCode.update, UpdateErrorSubcode.invalidNetworkField, 'update NLRI: malformed prefix');
  const decoded = decodeAttributes(bytes, withdrawnEnd + 2, attributesEnd, opts);
  if (decoded.fatal) return decoded.fatal;
  const { attributes, warnings } = decoded;
  const update: UpdateMessage = { type: 'update', withdrawn, attributes, nlri };
  const announces = nlri.length > 0 || (attributes.mpReach?.nlri.length ?? 0) > 0;
  if (announces) {
    const missing: [number, string][] = [];
    if (attributes.origin === undefined) missing.push([AttributeType.origin, 'ORIGIN']);
    if (attributes.asPath === undefined) missing.push([AttributeType.asPath, 'AS_PATH']);
    if (nlri.length > 0 && attributes.nextHop === undefined) missing.push([AttributeType.nextHop, 'NEXT_HOP']);
    for (const [type, name] of missing) warnings.push({ action: 'treat-as-withdraw', attributeType: type, reason: `missing well-known attribute ${name}` });
  }
  if (!warnings.some((w) => w.action === 'treat-as-withdraw')) return { message: update, warnings };
  const withdrawnUpdate = treatAsWithdraw(update);
  if (isDecodeError(withdrawnUpdate)) return withdrawnUpdate;
  return { message: withdrawnUpdate, warnings };
}
