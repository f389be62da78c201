/** Control packets for the BFD tests. */
import fc from 'fast-check';
import { BfdDiag, BfdState, type ControlPacket } from '../../../src/bfd/codec.ts';

const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** Every packet we can send and a peer may legitimately send (no auth, no multipoint). */
export const anyControlPacket: fc.Arbitrary<ControlPacket> = fc
  .record({
    diag: fc.integer({ min: 0, max: 31 }),
    state: fc.constantFrom(BfdState.AdminDown, BfdState.Down, BfdState.Init, BfdState.Up),
    flags: fc.constantFrom<'P' | 'F' | ''>('P', 'F', ''),
    controlPlaneIndependent: fc.boolean(),
    demand: fc.boolean(),
    detectMult: fc.integer({ min: 1, max: 255 }),
    myDiscriminator: fc.integer({ min: 1, max: 0xffffffff }),
    yourDiscriminator: u32,
    desiredMinTxUs: u32,
    requiredMinRxUs: u32,
    requiredMinEchoRxUs: u32,
  })
  .map(({ flags, ...rest }) => ({
    ...rest,
    poll: flags === 'P',
    final: flags === 'F',
    // A zero Your Discriminator is only valid in Down and AdminDown.
    yourDiscriminator: rest.yourDiscriminator === 0 && rest.state >= BfdState.Init ? 1 : rest.yourDiscriminator,
  }));

export function downPacket(): ControlPacket {
  return {
    diag: BfdDiag.None,
    state: BfdState.Down,
    poll: false,
    final: false,
    controlPlaneIndependent: false,
    demand: false,
    detectMult: 3,
    myDiscriminator: 7,
    yourDiscriminator: 0,
    desiredMinTxUs: 1_000_000,
    requiredMinRxUs: 300_000,
    requiredMinEchoRxUs: 0,
  };
}
