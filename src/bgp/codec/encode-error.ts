/** Thrown by encoders for values that cannot go on the wire; the message names the field and value. */
export class BgpEncodeError extends Error {
  override name = 'BgpEncodeError';
}
