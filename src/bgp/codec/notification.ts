import { CeaseSubcode, ErrorCode } from './constants.ts';
import { BgpEncodeError } from './encode-error.ts';
import type { NotificationMessage } from './types.ts';

/** RFC 9003 raised RFC 8203's 128-octet limit to 255. */
const MAX_SHUTDOWN_COMMUNICATION = 255;

function carriesCommunication(code: number, subcode: number): boolean {
  return code === ErrorCode.cease && (subcode === CeaseSubcode.administrativeShutdown || subcode === CeaseSubcode.administrativeReset);
}

/** A Cease NOTIFICATION (Administrative Shutdown or Reset) with a shutdown communication (RFC 8203/9003). */
export function shutdownNotification(subcode: number, text: string): NotificationMessage {
  if (!carriesCommunication(ErrorCode.cease, subcode)) throw new BgpEncodeError(`shutdown subcode: ${subcode}, expected 2 (Administrative Shutdown) or 4 (Administrative Reset)`);
  let utf8 = Buffer.from(text, 'utf8');
  if (utf8.length > MAX_SHUTDOWN_COMMUNICATION) {
    // Cut at a character boundary so the peer can still decode it as UTF-8.
    let end = MAX_SHUTDOWN_COMMUNICATION;
    while (end > 0 && ((utf8[end] as number) & 0xc0) === 0x80) end--;
    utf8 = utf8.subarray(0, end);
  }
  return { type: 'notification', code: ErrorCode.cease, subcode, data: Buffer.concat([Buffer.from([utf8.length]), utf8]) };
}

/** The shutdown communication of a Cease/Administrative Shutdown or Reset, when it carries a well-formed one. */
export function shutdownCommunication(message: NotificationMessage): string | undefined {
  if (!carriesCommunication(message.code, message.subcode)) return undefined;
  const length = message.data[0];
  if (length === undefined || length === 0 || 1 + length > message.data.length) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(message.data.subarray(1, 1 + length));
  } catch {
    return undefined;
  }
}
