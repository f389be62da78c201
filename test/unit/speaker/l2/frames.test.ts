import { expect } from 'chai';
import fc from 'fast-check';
import {
  buildArpAnnouncement,
  buildArpFrame,
  buildArpProbe,
  buildArpReply,
  buildArpRequest,
  buildGratuitousArp,
  buildNeighborAdvertisement,
  buildNeighborAdvertisementReply,
  buildNeighborSolicitation,
  buildUnsolicitedNeighborAdvertisement,
  canonicalIp,
  FrameInputError,
  ipv6MulticastMac,
  parseFrame,
  solicitedNodeMulticast,
  type ArpMessage,
  type ParsedFrame,
} from '../../../../src/speaker/l2/frames.ts';

/** Frames captured with tcpdump -xx between two Linux network namespaces (ndisc6 → kernel). */
const KERNEL_NS = Buffer.from(
  [
    '3333ff000001ae1262b7d3a786dd600056f800203afffe80000000000000ac1262fffeb7d3a7ff020000000000000000',
    '0001ff0000018700877f0000000020010db80000000000000000000000010101ae1262b7d3a7',
  ].join(''),
  'hex',
);
const KERNEL_NA = Buffer.from(
  [
    'ae1262b7d3a7d20473c0e7b886dd6000000000203aff20010db8000000000000000000000001fe80000000000000ac12',
    '62fffeb7d3a78800acbe6000000020010db80000000000000000000000010201d20473c0e7b8',
  ].join(''),
  'hex',
);

function parsed(bytes: Uint8Array): ParsedFrame {
  const result = parseFrame(bytes);
  if (!result.ok) throw new Error(`expected a frame, got: ${result.reason}`);
  return result.frame;
}

const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':'));
const ipv4Arb = fc.ipV4();
const ipv6Arb = fc.ipV6().map((text) => canonicalIp(text) ?? '::');
const unicastIpv6Arb = ipv6Arb.filter((ip) => !ip.startsWith('ff'));

describe('L2 frames: ARP', () => {
  it('builds a broadcast request with the exact wire layout, padded to 60 bytes', () => {
    const frame = buildArpRequest({ senderMac: '02:00:00:00:00:01', senderIp: '192.0.2.1', targetIp: '192.0.2.10' });
    expect(frame.length).to.equal(60);
    expect(frame.subarray(0, 42).toString('hex')).to.equal(
      'ffffffffffff' + '020000000001' + '0806' + '0001' + '0800' + '06' + '04' + '0001' + '020000000001' + 'c0000201' + '000000000000' + 'c000020a',
    );
    expect(frame.subarray(42).every((byte) => byte === 0)).to.equal(true);
  });

  it('answers a request: reply goes to the asker and swaps the roles', () => {
    const request = parsed(buildArpRequest({ senderMac: '02:00:00:00:00:01', senderIp: '192.0.2.1', targetIp: '192.0.2.10' }));
    if (request.kind !== 'arp') throw new Error('not ARP');
    const reply = parsed(buildArpReply(request.arp, '02:00:00:00:00:02'));
    expect(reply).to.deep.equal({
      kind: 'arp',
      ethernet: { destination: '02:00:00:00:00:01', source: '02:00:00:00:00:02' },
      arp: { operation: 'reply', senderMac: '02:00:00:00:00:02', senderIp: '192.0.2.10', targetMac: '02:00:00:00:00:01', targetIp: '192.0.2.1' },
    });
  });

  it('builds gratuitous ARP (request and reply), RFC 5227 probe and announcement', () => {
    const arpOf = (bytes: Buffer): ArpMessage => {
      const frame = parsed(bytes);
      if (frame.kind !== 'arp') throw new Error('not ARP');
      expect(frame.ethernet.destination).to.equal('ff:ff:ff:ff:ff:ff');
      return frame.arp;
    };
    const mac = '02:00:00:00:00:09';
    expect(arpOf(buildGratuitousArp({ mac, ip: '198.51.100.7' }))).to.deep.equal({
      operation: 'request', senderMac: mac, senderIp: '198.51.100.7', targetMac: '00:00:00:00:00:00', targetIp: '198.51.100.7',
    });
    expect(arpOf(buildGratuitousArp({ mac, ip: '198.51.100.7', operation: 'reply' }))).to.deep.equal({
      operation: 'reply', senderMac: mac, senderIp: '198.51.100.7', targetMac: 'ff:ff:ff:ff:ff:ff', targetIp: '198.51.100.7',
    });
    expect(arpOf(buildArpProbe({ mac, ip: '198.51.100.7' }))).to.deep.equal({
      operation: 'request', senderMac: mac, senderIp: '0.0.0.0', targetMac: '00:00:00:00:00:00', targetIp: '198.51.100.7',
    });
    expect(arpOf(buildArpAnnouncement({ mac, ip: '198.51.100.7' }))).to.deep.equal(arpOf(buildGratuitousArp({ mac, ip: '198.51.100.7' })));
  });

  it('rejects bad builder input naming the field and the value', () => {
    expect(() => buildArpRequest({ senderMac: '02:00:00:00:00', senderIp: '192.0.2.1', targetIp: '192.0.2.2' }))
      .to.throw(FrameInputError, /senderMac: "02:00:00:00:00"/);
    expect(() => buildArpRequest({ senderMac: '02:00:00:00:00:01', senderIp: '192.0.2.1', targetIp: '2001:db8::1' }))
      .to.throw(FrameInputError, /targetIp: "2001:db8::1" is not an IPv4 address/);
    expect(() => buildArpRequest({ senderMac: '02:00:00:00:00:01', senderIp: '192.0.2.01', targetIp: '192.0.2.2' }))
      .to.throw(FrameInputError, /senderIp/);
  });

  it('rejects ARP that is not Ethernet/IPv4 or has an unknown operation', () => {
    const good = buildArpRequest({ senderMac: '02:00:00:00:00:01', senderIp: '192.0.2.1', targetIp: '192.0.2.10' });
    const mutate = (offset: number, value: number): Buffer => {
      const copy = Buffer.from(good);
      copy[offset] = value;
      return copy;
    };
    expect(parseFrame(mutate(15, 6))).to.deep.include({ ok: false, reason: 'ARP hardware type 6 is not Ethernet (1)' });
    expect(parseFrame(mutate(17, 0xdd)).ok).to.equal(false);
    expect(parseFrame(mutate(19, 16)).ok).to.equal(false);
    expect(parseFrame(mutate(21, 3))).to.deep.include({ ok: false, reason: 'ARP operation 3 is neither request (1) nor reply (2)' });
    expect(parseFrame(good.subarray(0, 41)).ok).to.equal(false);
  });

  it('property: build then parse gives back every field', () => {
    fc.assert(
      fc.property(macArb, macArb, fc.constantFrom('request', 'reply' as const), macArb, ipv4Arb, macArb, ipv4Arb, (destination, source, operation, senderMac, senderIp, targetMac, targetIp) => {
        const arp: ArpMessage = { operation, senderMac, senderIp, targetMac, targetIp };
        expect(parsed(buildArpFrame({ destination, source }, arp))).to.deep.equal({ kind: 'arp', ethernet: { destination, source }, arp });
      }),
    );
  });
});

describe('L2 frames: IPv6 Neighbor Discovery', () => {
  it('maps an address to its solicited-node group and the group to its MAC', () => {
    expect(solicitedNodeMulticast('2001:db8::1:2:3')).to.equal('ff02::1:ff02:3');
    expect(ipv6MulticastMac('ff02::1:ff02:3')).to.equal('33:33:ff:02:00:03');
    expect(ipv6MulticastMac('ff02::1')).to.equal('33:33:00:00:00:01');
    expect(() => ipv6MulticastMac('2001:db8::1')).to.throw(FrameInputError, /not an IPv6 multicast/);
  });

  it('parses a solicitation sent by the Linux kernel', () => {
    expect(parsed(KERNEL_NS)).to.deep.equal({
      kind: 'ndp',
      ethernet: { destination: '33:33:ff:00:00:01', source: 'ae:12:62:b7:d3:a7' },
      ipv6: { source: 'fe80::ac12:62ff:feb7:d3a7', destination: 'ff02::1:ff00:1', hopLimit: 255 },
      ndp: { type: 'solicitation', target: '2001:db8::1', sourceLinkAddress: 'ae:12:62:b7:d3:a7' },
    });
  });

  it('answers the kernel solicitation with exactly the advertisement the kernel itself sent', () => {
    const request = parsed(KERNEL_NS);
    if (request.kind !== 'ndp' || request.ndp.type !== 'solicitation') throw new Error('not an NS');
    const reply = buildNeighborAdvertisementReply({ ...request, ndp: request.ndp }, 'd2:04:73:c0:e7:b8');
    expect(reply.toString('hex')).to.equal(KERNEL_NA.toString('hex'));
  });

  it('answers a DAD probe (source ::) to all nodes, unsolicited', () => {
    const probe = parsed(buildNeighborSolicitation({ sourceMac: '02:00:00:00:00:01', sourceIp: '::', target: '2001:db8::5' }));
    if (probe.kind !== 'ndp' || probe.ndp.type !== 'solicitation') throw new Error('not an NS');
    expect(probe.ndp.sourceLinkAddress).to.equal(undefined);
    const reply = parsed(buildNeighborAdvertisementReply({ ...probe, ndp: probe.ndp }, '02:00:00:00:00:02'));
    expect(reply).to.deep.include({ ipv6: { source: '2001:db8::5', destination: 'ff02::1', hopLimit: 255 } });
    expect(reply.kind === 'ndp' && reply.ndp).to.deep.equal({
      type: 'advertisement', target: '2001:db8::5', router: false, solicited: false, override: true, targetLinkAddress: '02:00:00:00:00:02',
    });
  });

  it('builds an unsolicited advertisement to all nodes with override set', () => {
    const frame = parsed(buildUnsolicitedNeighborAdvertisement({ mac: '02:00:00:00:00:03', ip: '2001:db8::7' }));
    expect(frame).to.deep.equal({
      kind: 'ndp',
      ethernet: { destination: '33:33:00:00:00:01', source: '02:00:00:00:00:03' },
      ipv6: { source: '2001:db8::7', destination: 'ff02::1', hopLimit: 255 },
      ndp: { type: 'advertisement', target: '2001:db8::7', router: false, solicited: false, override: true, targetLinkAddress: '02:00:00:00:00:03' },
    });
  });

  it('rejects a wrong checksum, a forwarded packet (hop limit < 255), other ICMPv6 and broken options', () => {
    const mutate = (offset: number, value: number): Buffer => {
      const copy = Buffer.from(KERNEL_NS);
      copy[offset] = value;
      return copy;
    };
    expect(parseFrame(mutate(56, 0)).ok).to.equal(false); // checksum byte
    expect(parseFrame(mutate(21, 254))).to.deep.include({ ok: false, reason: 'NDP hop limit 254 is not 255' });
    expect(parseFrame(mutate(54, 128)).ok).to.equal(false); // echo request
    expect(parseFrame(mutate(20, 6)).ok).to.equal(false); // TCP
    expect(parseFrame(mutate(79, 0)).ok).to.equal(false); // option length 0 (checksum also off)
    expect(parseFrame(KERNEL_NS.subarray(0, 80))).to.deep.include({ ok: false });
  });

  it('property: build then parse gives back every field of NS and NA', () => {
    fc.assert(
      fc.property(macArb, unicastIpv6Arb, unicastIpv6Arb, (mac, sourceIp, target) => {
        const frame = parsed(buildNeighborSolicitation({ sourceMac: mac, sourceIp, target }));
        expect(frame.kind === 'ndp' && frame.ndp.target).to.equal(target);
        expect(frame.kind === 'ndp' && frame.ipv6.destination).to.equal(solicitedNodeMulticast(target));
        expect(frame.kind === 'ndp' && frame.ndp.type === 'solicitation' && frame.ndp.sourceLinkAddress).to.equal(sourceIp === '::' ? undefined : mac);
      }),
    );
    fc.assert(
      fc.property(macArb, macArb, unicastIpv6Arb, unicastIpv6Arb, fc.boolean(), fc.boolean(), fc.boolean(), (mac, destinationMac, target, destinationIp, solicited, override, router) => {
        const frame = parsed(buildNeighborAdvertisement({ mac, target, destinationIp, destinationMac, solicited, override, router }));
        expect(frame).to.deep.equal({
          kind: 'ndp',
          ethernet: { destination: destinationMac, source: mac },
          ipv6: { source: target, destination: destinationIp, hopLimit: 255 },
          ndp: { type: 'advertisement', target, router, solicited, override, targetLinkAddress: mac },
        });
      }),
    );
  });
});
