import { expect } from 'chai';
import { Registry } from 'prom-client';
import { announcementDrift, SpeakerMetrics, type Announcement, type SessionCounters, type SpeakerMetricSources } from '../../../src/speaker/metrics.ts';
import type { PeerSessionStatus } from '../../../src/speaker/bgp/announcer.ts';
import { sampleOf } from '../../support/promtool.ts';

const web = [{ namespace: 'shop', name: 'web' }];
const l2 = (ip: string): Announcement => ({ ip, protocol: 'layer2', services: web });
const bgp = (ip: string): Announcement => ({ ip, protocol: 'bgp', services: web });

describe('speaker/metrics', () => {
  describe('announcementDrift', () => {
    it('is empty when what is announced is what is meant', () => {
      expect(announcementDrift([l2('192.0.2.1'), bgp('192.0.2.2')], [bgp('192.0.2.2'), l2('192.0.2.1')])).to.deep.equal([]);
    });

    it('names an IP meant but not announced, and one announced but not meant, per protocol', () => {
      expect(announcementDrift([l2('192.0.2.1'), bgp('192.0.2.1')], [l2('192.0.2.1'), bgp('192.0.2.9')])).to.deep.equal([
        { ip: '192.0.2.1', protocol: 'bgp', kind: 'NotAnnounced' },
        { ip: '192.0.2.9', protocol: 'bgp', kind: 'NotIntended' },
      ]);
    });
  });

  describe('SpeakerMetrics scrape', () => {
    const session = (peer: string, state: PeerSessionStatus['state'], bfd?: 'Up' | 'Down'): PeerSessionStatus & SessionCounters => ({
      peer,
      node: 'node1',
      state,
      since: '2026-01-01T00:00:00.000Z',
      prefixesSent: state === 'Established' ? 2 : 0,
      prefixesReceived: 0,
      updatesSent: 3,
      notificationsSent: 1,
      notificationsReceived: 0,
      ...(bfd ? { bfd: { profile: 'fast', state: bfd } } : {}),
    });
    const sources = (over: Partial<SpeakerMetricSources> = {}): SpeakerMetricSources => ({
      node: 'node1',
      intended: () => [l2('192.0.2.1'), bgp('192.0.2.2')],
      announced: () => [l2('192.0.2.1')],
      l2Frames: () => new Map([['192.0.2.1', { requestsReceived: 5, responsesSent: 4, gratuitousSent: 1 }]]),
      bgpSessions: () => [session('tor-a', 'Established', 'Up'), session('tor-b', 'Active', 'Down')],
      liveMembers: () => 3,
      heartbeatsRefused: () => ({ unauthenticated: 2, malformed: 0 }),
      ...over,
    });

    it('shows what the sources say at scrape time, with MetalLB-shaped labels', async () => {
      const registry = new Registry();
      const metrics = new SpeakerMetrics(registry, sources());
      metrics.failoverSeconds.observe({ ip: '192.0.2.1', reason: 'NodeFailed' }, 0.6);
      const text = await registry.metrics();
      expect(sampleOf(text, 'anchorlb_speaker_announced', { service: 'shop/web', protocol: 'bgp', node: 'node1', ip: '192.0.2.2' })).to.equal(1);
      expect(sampleOf(text, 'anchorlb_speaker_announced_actual', { protocol: 'bgp' })).to.equal(undefined);
      expect(sampleOf(text, 'anchorlb_speaker_announce_drift', { ip: '192.0.2.2', protocol: 'bgp', kind: 'NotAnnounced', node: 'node1' })).to.equal(1);
      expect(sampleOf(text, 'anchorlb_layer2_requests_received_total', { ip: '192.0.2.1' })).to.equal(5);
      expect(sampleOf(text, 'anchorlb_layer2_responses_sent_total', { ip: '192.0.2.1' })).to.equal(4);
      expect(sampleOf(text, 'anchorlb_layer2_gratuitous_sent_total', { ip: '192.0.2.1' })).to.equal(1);
      expect(sampleOf(text, 'anchorlb_bgp_session_up', { peer: 'tor-a' })).to.equal(1);
      expect(sampleOf(text, 'anchorlb_bgp_session_up', { peer: 'tor-b' })).to.equal(0);
      expect(sampleOf(text, 'anchorlb_bgp_announced_prefixes', { peer: 'tor-a' })).to.equal(2);
      expect(sampleOf(text, 'anchorlb_bgp_updates_total', { peer: 'tor-a' })).to.equal(3);
      expect(sampleOf(text, 'anchorlb_bgp_notifications_sent_total', { peer: 'tor-b' })).to.equal(1);
      expect(sampleOf(text, 'anchorlb_bgp_notifications_received_total', { peer: 'tor-b' })).to.equal(0);
      expect(sampleOf(text, 'anchorlb_bfd_session_up', { peer: 'tor-b' })).to.equal(0);
      expect(sampleOf(text, 'anchorlb_speaker_members')).to.equal(3);
      expect(sampleOf(text, 'anchorlb_speaker_heartbeats_refused_total', { reason: 'unauthenticated' })).to.equal(2);
      expect(sampleOf(text, 'anchorlb_failover_duration_seconds_bucket', { ip: '192.0.2.1', le: '0.5' })).to.equal(0);
      expect(sampleOf(text, 'anchorlb_failover_duration_seconds_bucket', { ip: '192.0.2.1', le: '0.75' })).to.equal(1);
    });

    it('drops the series of an IP or peer that is gone at the next scrape', async () => {
      const registry = new Registry();
      let sessions = [session('tor-a', 'Established')];
      let announced = [l2('192.0.2.1')];
      new SpeakerMetrics(registry, sources({ bgpSessions: () => sessions, announced: () => announced, intended: () => announced }));
      expect(sampleOf(await registry.metrics(), 'anchorlb_bgp_session_up', { peer: 'tor-a' })).to.equal(1);
      sessions = [];
      announced = [];
      const text = await registry.metrics();
      expect(sampleOf(text, 'anchorlb_bgp_session_up', { peer: 'tor-a' })).to.equal(undefined);
      expect(sampleOf(text, 'anchorlb_speaker_announced_actual', { ip: '192.0.2.1' })).to.equal(undefined);
    });
  });
});
