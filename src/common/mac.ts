/** A MAC address as the rest of the project holds it: lower-case hex pairs joined by colons. Pure. */
export function macFromBytes(bytes: Uint8Array, offset = 0): string {
  let text = '';
  for (let i = 0; i < 6; i++) {
    text += (i ? ':' : '') + (bytes[offset + i] ?? 0).toString(16).padStart(2, '0');
  }
  return text;
}
