import { HEADER_LENGTH } from './constants.ts';
import { isDecodeError } from './errors.ts';
import { checkHeader, maxMessageLength } from './message.ts';
import type { BgpDecodeError, FramerOutput } from './types.ts';

/**
 * Splits a TCP byte stream into whole BGP messages. Checks the marker and the length
 * bounds (19..4096, or ..65535 once extended messages are negotiated). Holds at most one
 * partial message, whatever the peer sends.
 */
export class MessageFramer {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private failed: BgpDecodeError | undefined;
  /** Octets needed before parsing is worth trying: a header, or the whole message it announced. */
  private needed = HEADER_LENGTH;

  constructor(private extendedMessages = false) {}

  /** Call once the OPEN exchange negotiated extended messages (RFC 8654). */
  setExtendedMessages(enabled: boolean): void {
    this.extendedMessages = enabled;
  }

  /** Octets received that do not yet make a whole message. */
  get bufferedLength(): number {
    return this.pendingLength;
  }

  /** Feeds a chunk; returns the messages it completed. After an error, every call returns that error and no messages. */
  push(chunk: Buffer): FramerOutput {
    if (this.failed) return { messages: [], error: this.failed };
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
    // Concatenate only once a header or a whole message is there, so tiny chunks cost O(n), not O(n²).
    if (this.pendingLength < this.needed) return { messages: [] };
    const buffer = this.pending.length === 1 ? chunk : Buffer.concat(this.pending, this.pendingLength);
    this.pending = [];
    this.pendingLength = 0;
    this.needed = HEADER_LENGTH;
    const messages: Buffer[] = [];
    const maxLength = maxMessageLength({ extendedMessages: this.extendedMessages });
    let offset = 0;
    while (buffer.length - offset >= HEADER_LENGTH) {
      const length = checkHeader(buffer.subarray(offset, offset + HEADER_LENGTH), maxLength);
      if (isDecodeError(length)) {
        this.failed = length;
        return { messages, error: length };
      }
      if (buffer.length - offset < length) {
        this.needed = length;
        break;
      }
      // Copy out so a retained message does not pin the whole chunk.
      messages.push(Buffer.from(buffer.subarray(offset, offset + length)));
      offset += length;
    }
    if (offset < buffer.length) {
      this.pending = [Buffer.from(buffer.subarray(offset))];
      this.pendingLength = buffer.length - offset;
    }
    return { messages };
  }
}
