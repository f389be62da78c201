/** Thrown by encoders for values that cannot go on the wire; the message names the field and value. */
export class BgpEncodeError extends Error {
  override name = 'BgpEncodeError';
}

/** `value` when it is an integer in 0..max; a BgpEncodeError naming `field` otherwise. */
export function checkUint(value: number, max: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new BgpEncodeError(`${field}: ${value} is not an integer in 0..${max}`);
  return value;
}
