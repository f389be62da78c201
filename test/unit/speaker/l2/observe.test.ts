import { expect } from 'chai';
import fc from 'fast-check';
import {
  buildArpProbe,
  buildArpReply,
  buildArpRequest,
  buildGratuitousArp,
  buildNeighborAdvertisementReply,
  buildNeighborSolicitation,
  buildUnsolicitedNeighborAdvertisement,
  canonicalIp,
  parseFrame,
  type ParsedFrame,
} from '../../../../src/speaker/l2/frames.ts';
import { observe } from '../../../../src/speaker/l2/observe.ts';

const parsed = (bytes: Buffer): ParsedFrame => {
  const result = parseFrame(bytes);
  if (!result.ok) throw new Error(result.reason);
  return result.frame;
};
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((bytes) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':'));
const ipv4 = fc.ipV4().filter((ip) => ip !== '0.0.0.0');
const ipv6 = fc.ipV6().map((ip) => canonicalIp(ip) ?? ip).filter((ip) => ip !== '::' && !ip.startsWith('ff'));

describe('speaker/l2: what a received frame means', () => {
  it('an ARP probe asks for the address as a probe and claims nothing', () => {
    fc.assert(fc.property(mac, ipv4, (m, ip) => {
      expect(observe(parsed(buildArpProbe({ mac: m, ip })))).to.deep.equal({ question: { ip, probe: true } });
    }));
  });

  it('a gratuitous ARP (request or reply form) claims the address and asks nothing', () => {
    fc.assert(fc.property(mac, ipv4, fc.constantFrom('request' as const, 'reply' as const), (m, ip, operation) => {
      expect(observe(parsed(buildGratuitousArp({ mac: m, ip, operation })))).to.deep.equal({ sighting: { ip, mac: m } });
    }));
  });

  it('an ordinary ARP request asks for the target and shows where the sender is; the reply claims the target', () => {
    fc.assert(fc.property(mac, mac, ipv4, ipv4, (asker, owner, senderIp, targetIp) => {
      fc.pre(senderIp !== targetIp);
      const request = parsed(buildArpRequest({ senderMac: asker, senderIp, targetIp }));
      expect(observe(request)).to.deep.equal({ sighting: { ip: senderIp, mac: asker }, question: { ip: targetIp, probe: false } });
      if (request.kind !== 'arp') throw new Error('not ARP');
      expect(observe(parsed(buildArpReply(request.arp, owner)))).to.deep.equal({ sighting: { ip: targetIp, mac: owner } });
    }));
  });

  it('a DAD solicitation (from ::) is a probe; one from an address is an ordinary question', () => {
    fc.assert(fc.property(mac, ipv6, ipv6, (m, source, target) => {
      expect(observe(parsed(buildNeighborSolicitation({ sourceMac: m, sourceIp: '::', target })))).to.deep.equal({ question: { ip: target, probe: true } });
      expect(observe(parsed(buildNeighborSolicitation({ sourceMac: m, sourceIp: source, target })))).to.deep.equal({ question: { ip: target, probe: false } });
    }));
  });

  it('a Neighbor Advertisement, solicited or not, claims its target at its target link-layer address', () => {
    fc.assert(fc.property(mac, mac, ipv6, ipv6, (asker, owner, source, target) => {
      expect(observe(parsed(buildUnsolicitedNeighborAdvertisement({ mac: owner, ip: target })))).to.deep.equal({ sighting: { ip: target, mac: owner } });
      const solicitation = parsed(buildNeighborSolicitation({ sourceMac: asker, sourceIp: source, target }));
      if (solicitation.kind !== 'ndp' || solicitation.ndp.type !== 'solicitation') throw new Error('not an NS');
      const reply = parsed(buildNeighborAdvertisementReply({ ...solicitation, ndp: solicitation.ndp }, owner));
      expect(observe(reply)).to.deep.equal({ sighting: { ip: target, mac: owner } });
    }));
  });
});
