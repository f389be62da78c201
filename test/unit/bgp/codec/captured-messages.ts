/**
 * Messages captured from real routers (Debian 12: FRR 8.4.4, BIRD 2.0.12, gobgpd 3.10) in a
 * network-namespace test-bed, each peering with a speaker at 192.0.2.11 (AS 65001) that
 * advertised IPv4+IPv6 unicast, route refresh, enhanced route refresh, extended messages, GR
 * and the hostname capability. Hex of each whole message, in the order received.
 */
export const captured = {
  /** FRR AS 64512, eBGP, 4-octet AS session, IPv4+IPv6, route-map adding communities/large/extended, then a ROUTE-REFRESH from us (enhanced: BoRR/EoRR). */
  frrEbgp: [
    'ffffffffffffffffffffffffffffffff00830104fc000009c00002016602060104000100010206010400020001020280000202020002024600020641040000fc0002020600020a450800010101000201010210490e0c68356361702d726f7574657200020c400ac07800010100000201000210470e0001018000000000020180000000', // open
    'ffffffffffffffffffffffffffffffff001304', // keepalive
    'ffffffffffffffffffffffffffffffff0038020000001c400101005002000602010000fc00400304c0000201800404000000001acb007140', // update
    'ffffffffffffffffffffffffffffffff001d0200000006800f03000201', // update
    'ffffffffffffffffffffffffffffffff00170200000000', // update
    'ffffffffffffffffffffffffffffffff00170500010101', // routeRefresh
    'ffffffffffffffffffffffffffffffff0038020000001c400101005002000602010000fc00400304c0000201800404000000001acb007140', // update
    'ffffffffffffffffffffffffffffffff00170500010201', // routeRefresh
    'ffffffffffffffffffffffffffffffff001304', // keepalive
    'ffffffffffffffffffffffffffffffff00610200000041400101005002000602010000fc00400304c000020180040400000032c00808fc000064ffff029ac0200c0000fc000000000100000002c010080002fc000000000718c6336419c6336480', // update
    'ffffffffffffffffffffffffffffffff0081020000006a900e002c0002012020010db8000000000000000000000001fe8000000000000078fbd8fffeb4259b003020010db80100400101005002000602010000fc0080040400000032c00808fc000064ffff029ac0200c0000fc000000000100000002c010080002fc0000000007', // update
  ],
  /** FRR AS 4200000000 toward a peer that did not send the 4-octet AS capability: AS_TRANS, AS4_PATH, AS4_AGGREGATOR, ATOMIC_AGGREGATE. */
  frrTwoOctetPeer: [
    'ffffffffffffffffffffffffffffffff006c01045ba00009c00002014f020601040001000102028000020202000202460002064104fa56ea000202060002064504000101010210490e0c68356361702d726f757465720002084006c078000101000209470700010180000000', // open
    'ffffffffffffffffffffffffffffffff001304', // keepalive
    'ffffffffffffffffffffffffffffffff00520200000037400101005002000802035ba05ba0fdf2400304c000020180040400000000c00804fc000064d011000e0203fa56ea00fa56ea010000fdf218c63364', // update
    'ffffffffffffffffffffffffffffffff0056020000003b400101005002000402015ba0400304c000020180040400000000400600c007065ba0c0000201d01100060201fa56ea00c01208fa56ea00c000020118cb0071', // update
    'ffffffffffffffffffffffffffffffff00400200000024400101005002000402015ba0400304c000020180040400000000d01100060201fa56ea001acb007140', // update
    'ffffffffffffffffffffffffffffffff00170200000000', // update
    'ffffffffffffffffffffffffffffffff001304', // keepalive
  ],
  /** BIRD AS 64513, eBGP, IPv4+IPv6 static routes exported with communities, large and extended communities, MED. */
  birdEbgp: [
    'ffffffffffffffffffffffffffffffff00410104fc0100f0c00002012402220104000100010104000200010200400a0078000101000002010041040000fc014600', // open
    'ffffffffffffffffffffffffffffffff001304', // keepalive
    'ffffffffffffffffffffffffffffffff005c020000003c4001010040020602010000fc01400304c000020180040400000007c00804fc01002ac010080002fc0100000009c0200c0000fc01000000030000000418c6336420cb007107', // update
    'ffffffffffffffffffffffffffffffff00170200000000', // update
    'ffffffffffffffffffffffffffffffff006e0200000057900e003f0002012020010db8000000000000000000000001fe8000000000000078fbd8fffeb4259b008020010db80200000000000000000000074020010db8020000004001010040020602010000fc01c00804ffffff01', // update
    'ffffffffffffffffffffffffffffffff001d0200000006800f03000201', // update
  ],
  /** gobgpd AS 64514, eBGP, routes added with gobgp global rib add. */
  gobgpEbgp: [
    'ffffffffffffffffffffffffffffffff00410104fc02005ac00002012402220200490402766d0001040001000101040002000141040000fc020506000100010002', // open
    'ffffffffffffffffffffffffffffffff001304', // keepalive
    'ffffffffffffffffffffffffffffffff004c02000000314001010240020602010000fc02400304c000020180040400000009c00804fc020005c0200c0000fc02000000060000000718c63364', // update
    'ffffffffffffffffffffffffffffffff0044020000002d4001010240020602010000fc02800e1d0002011020010db8000000000000000000000001003820010db8030000', // update
  ],
} as const;

/**
 * Malformed messages sent to FRR 8.4.4 (after the OPEN exchange, or as the OPEN for the `open*`
 * cases) and the NOTIFICATION FRR answered with: [code, subcode, data hex].
 */
export const frrNotifications: Record<string, { readonly sent: string; readonly frr: readonly [number, number, string] }> = {
  badMarker: { sent: 'feffffffffffffffffffffffffffffff001304', frr: [1, 1, ''] },
  keepaliveLength20: { sent: 'ffffffffffffffffffffffffffffffff00140400', frr: [1, 2, '0014'] },
  messageType9: { sent: 'ffffffffffffffffffffffffffffffff001309', frr: [1, 3, '09'] },
  lengthTooLong: { sent: 'ffffffffffffffffffffffffffffffff13880200000000000000000000', frr: [1, 2, '1388'] },
  unrecognizedWellKnown: { sent: 'ffffffffffffffffffffffffffffffff003402000000194001010040020602010000fde9400304c000020b406402abcd18c63364', frr: [3, 1, ''] },
  nlriLength33: { sent: 'ffffffffffffffffffffffffffffffff003102000000144001010040020602010000fde9400304c000020b21c0000201ff', frr: [3, 10, ''] },
  duplicateMpUnreach: { sent: 'ffffffffffffffffffffffffffffffff0023020000000c800f03000201800f03000201', frr: [3, 1, ''] },
  routeRefreshLength24: { sent: 'ffffffffffffffffffffffffffffffff00180500010001ff', frr: [6, 0, ''] },
  withdrawnOverrun: { sent: 'ffffffffffffffffffffffffffffffff0017020005c000', frr: [3, 1, ''] },
  attributeLengthOverrun: { sent: 'ffffffffffffffffffffffffffffffff001a0200000009400101', frr: [3, 1, ''] },
  openVersion5: { sent: 'ffffffffffffffffffffffffffffffff001d0105fde9005ac000020b00', frr: [2, 1, '0004'] },
  openHoldTime2: { sent: 'ffffffffffffffffffffffffffffffff001d0104fde90002c000020b00', frr: [2, 6, '0002'] },
  openIdentifierZero: { sent: 'ffffffffffffffffffffffffffffffff001d0104fde9005a0000000000', frr: [2, 3, '00000000'] },
  openUnsupportedParameter: { sent: 'ffffffffffffffffffffffffffffffff00210104fde9005ac000020b0401020000', frr: [2, 5, ''] },
};
