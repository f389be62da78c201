/**
 * The Layer 2 announcer: answers ARP requests and Neighbor Solicitations for the Service IPs
 * this node owns, on raw sockets (native addon), and moves clients with gratuitous ARP /
 * unsolicited NA on takeover. Level-triggered: `apply()` gets the whole desired set (from
 * `desiredL2State`) and the announcer converges to it. Each IP follows the pure state machine
 * in claim.ts (probe → announce, conflict → back-off, release → hand over); this file only
 * performs its effects: frames, `ip addr` for bindToInterface, events, counters.
 *
 * Interfaces: those an announcement names, else `options.interfaces`, else every announceable
 * interface found at each apply() (interfaces.ts). One AF_PACKET socket per interface in use.
 *
 * bindToInterface: the address is added (bind.ts: `ip addr add IP/32|128 dev IF`) just before the first
 * gratuitous ARP and removed once the IP is withdrawn. The kernel would then answer ARP for it
 * on every interface too, defend it against the successor's probes, and use it as the sender of
 * its own ARP requests (which would pull clients back after a hand-over): hosts using it must set
 * net.ipv4.conf.<if>.arp_ignore=1 and arp_announce=2 on the announcing interfaces, as for LVS-DR
 * (the announcer warns otherwise).
 * IPv6 neighbour discovery only answers for addresses on the receiving interface, so `lo` is
 * safe as it is.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../common/log.ts';
import { bindAddress, unbindAddress } from '../bind.ts';
import type { L2Announcement } from '../l2-desired.ts';
import { availability, PacketSocket } from '../../native/index.ts';
import {
  advanceClaim,
  answersOverride,
  answersProbes,
  answersRequests,
  claimTiming,
  foreignClaim,
  nextWakeAt,
  reclaim,
  releaseClaim,
  startClaim,
  type ClaimEffect,
  type ClaimState,
  type ClaimStep,
  type ClaimTiming,
} from './claim.ts';
import {
  buildArpProbe,
  buildArpReply,
  buildGratuitousArp,
  buildNeighborAdvertisement,
  buildNeighborAdvertisementReply,
  buildNeighborSolicitation,
  buildUnsolicitedNeighborAdvertisement,
  canonicalIp,
  ipv6MulticastMac,
  macToBytes,
  parseFrame,
  solicitedNodeMulticast,
  UNSPECIFIED_IPV6,
} from './frames.ts';
import { discoverInterfaces } from './interfaces.ts';
import { observe } from './observe.ts';

export interface L2AnnouncerOptions {
  logger: Logger;
  timing?: Partial<ClaimTiming>;
  /** Interfaces for announcements that name none; default: discovered (see interfaces.ts). */
  interfaces?: string[];
}

export type L2AnnouncerEvent =
  | { type: 'announced'; ip: string; interface: string }
  | { type: 'withdrawn'; ip: string; reason: 'takenOver' | 'timeout' | 'released' | 'stopped' }
  | { type: 'conflict'; ip: string; foreignMac: string; interface: string; retryInMs: number }
  | { type: 'takenOver'; ip: string; byMac: string }
  /** bindToInterface could not add the address (e.g. its record cannot be written): still answered for, retried on the next apply. */
  | { type: 'bindFailed'; ip: string; interface: string; error: string };

/** The process has no raw access (no addon, or no CAP_NET_RAW): Layer 2 mode cannot run. */
export class RawAccessError extends Error {
  override readonly name = 'RawAccessError';
}

interface ClaimRecord {
  ip: string;
  family: 4 | 6;
  claim: ClaimState;
  /** The announcer's timing with this IP's takeover announcements (spec.failover). */
  timing: ClaimTiming;
  interfaces: string[];
  bindTo: string[];
  /** Interfaces the address is currently added to (by us). */
  bound: Set<string>;
}

interface InterfaceSocket {
  socket: PacketSocket;
  /** Solicited-node group MACs joined on this interface. */
  groups: Set<string>;
}

export interface IpFrameCounts {
  requestsReceived: number;
  responsesSent: number;
  gratuitousSent: number;
}

export class L2Announcer {
  readonly counters = {
    probesSent: 0,
    announcementsSent: 0,
    arpRepliesSent: 0,
    neighborAdvertisementsSent: 0,
    conflicts: 0,
    takeovers: 0,
    /** Another MAC announced an IP we hold (not handing over): logged, not fought. */
    foreignAnnouncements: 0,
    bindErrors: 0,
    socketErrors: 0,
  };
  /** Per IP (kept after a withdraw, as Prometheus counters): requests for it received, replies and gratuitous ARP / unsolicited NA sent. */
  readonly framesByIp = new Map<string, IpFrameCounts>();
  private readonly timing: ClaimTiming;
  private readonly logger: Logger;
  private readonly claims = new Map<string, ClaimRecord>();
  private readonly sockets = new Map<string, InterfaceSocket>();
  private readonly listeners: Array<(event: L2AnnouncerEvent) => void> = [];
  private idleWaiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  /** The node's links as last told (`linksChanged`); undefined: not watched, every name is tried. */
  private links: ReadonlyMap<string, number> | undefined;
  /** Interfaces whose socket was (re)opened since the last afterChange: IPs already announced are announced there too. */
  private readonly freshSockets = new Set<string>();
  /** `ip addr` changes run one after another, in the order the state machine asked for them. */
  private addressQueue: Promise<void> = Promise.resolve();
  private stopped = false;

  /** Throws RawAccessError (with the reason and what to do) when raw frames are not available. */
  constructor(private readonly options: L2AnnouncerOptions) {
    const ready = availability({ rawFrames: true });
    if (!ready.available) throw new RawAccessError(`Layer 2 mode cannot start: ${ready.reason}`);
    this.timing = claimTiming(options.timing);
    this.logger = options.logger;
  }

  onEvent(listener: (event: L2AnnouncerEvent) => void): void {
    this.listeners.push(listener);
  }

  /** Phase of every IP the announcer holds (for status and tests). */
  phases(): Map<string, ClaimState['phase']> {
    return new Map([...this.claims].map(([ip, record]) => [ip, record.claim.phase]));
  }

  /** Converges to exactly these announcements: new IPs are claimed, missing ones handed over. */
  apply(announcements: ReadonlyMap<string, L2Announcement>): void {
    if (this.stopped) throw new Error('L2 announcer is stopped');
    const now = performance.now();
    let discovered: string[] | undefined;
    const wanted = new Set<string>();
    for (const announcement of announcements.values()) {
      const ip = canonicalIp(announcement.ip);
      if (ip === undefined) {
        this.logger.error({ ip: announcement.ip }, `announcement ip: ${JSON.stringify(announcement.ip)} is not an IP address; skipped`);
        continue;
      }
      wanted.add(ip);
      const interfaces =
        announcement.interfaces.length > 0 ? [...announcement.interfaces] : (this.options.interfaces ?? (discovered ??= discoverInterfaces()));
      const timing = this.timingOf(announcement);
      const record = this.claims.get(ip);
      if (!record) {
        const created: ClaimRecord = { ip, family: isIPv6(ip) ? 6 : 4, claim: { phase: 'released' }, timing, interfaces, bindTo: [...announcement.bindToInterfaces], bound: new Set() };
        this.claims.set(ip, created);
        this.syncSockets();
        this.perform(created, startClaim(now, timing));
        continue;
      }
      // A changed timing applies from the next announcement on.
      record.timing = timing;
      record.interfaces = interfaces;
      record.bindTo = [...announcement.bindToInterfaces];
      if (record.claim.phase === 'releasing') this.perform(record, reclaim(record.claim, now, timing));
      else if (answersRequests(record.claim)) this.syncBinding(record);
    }
    for (const record of this.claims.values()) {
      if (!wanted.has(record.ip)) this.perform(record, releaseClaim(record.claim, now, record.timing));
    }
    this.afterChange();
  }

  /** The announcer's timing, with the announcement's takeover count and interval when it has them. */
  private timingOf(announcement: L2Announcement): ClaimTiming {
    if (!announcement.takeover) return this.timing;
    try {
      return claimTiming({ ...this.timing, ...announcement.takeover });
    } catch (error) {
      this.logger.error({ ip: announcement.ip, err: (error as Error).message }, `takeover timing of ${announcement.ip}: ${(error as Error).message}; using the default`);
      return this.timing;
    }
  }

  /** Sends the takeover announcements again for every IP held (e.g. when a partitioned node rejoins). */
  reannounce(): void {
    const now = performance.now();
    for (const record of this.claims.values()) {
      if (record.claim.phase === 'announced') this.perform(record, reclaim(record.claim, now, record.timing));
    }
    this.afterChange();
  }

  /**
   * The node's links changed (links.ts): sockets on links gone or re-created (another ifindex,
   * where the old socket hears nothing) are closed; sockets are opened on links that appeared,
   * and the IPs already announced are announced again there. Which interfaces each IP uses
   * comes with the next apply().
   */
  linksChanged(indexes: ReadonlyMap<string, number>): void {
    if (this.stopped) return;
    this.links = indexes;
    for (const [name, entry] of this.sockets) {
      if (indexes.get(name) === entry.socket.interface.index) continue;
      this.logger.info({ interface: name }, indexes.has(name) ? 'interface re-created: raw socket reopened' : 'interface gone: raw socket closed');
      entry.socket.close();
      this.sockets.delete(name);
    }
    this.afterChange();
  }

  /**
   * Planned move: hands every IP over (answers until the successor's announcement is seen, or
   * the release timeout) and resolves when none is left. Call it before telling the other
   * speakers this node leaves (LivenessAgent.leave), so that no successor's probe meets a node
   * still defending the IP.
   */
  handOver(): Promise<void> {
    this.apply(new Map());
    return this.whenIdle();
  }

  /** Stops at once: no more answers, addresses unbound, sockets closed. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    for (const record of this.claims.values()) {
      if (answersRequests(record.claim)) this.emit({ type: 'withdrawn', ip: record.ip, reason: 'stopped' });
      record.bindTo = [];
      this.syncBinding(record);
    }
    this.claims.clear();
    await this.addressQueue;
    for (const entry of this.sockets.values()) entry.socket.close();
    this.sockets.clear();
    this.resolveIdle();
  }

  private whenIdle(): Promise<void> {
    if (this.claims.size === 0) return this.addressQueue;
    return new Promise((resolve) => this.idleWaiters.push(() => void this.addressQueue.then(resolve)));
  }

  private resolveIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  // -------------------------------------------------------------------------------------------
  // effects

  private perform(record: ClaimRecord, step: ClaimStep): void {
    record.claim = step.state;
    for (const effect of step.effects) this.performEffect(record, effect);
    if (record.claim.phase === 'released') this.claims.delete(record.ip);
  }

  private performEffect(record: ClaimRecord, effect: ClaimEffect): void {
    switch (effect.type) {
      case 'probe':
        for (const entry of this.socketsOf(record)) {
          const mac = entry.socket.interface.mac;
          this.send(entry, record.family === 4 ? buildArpProbe({ mac, ip: record.ip }) : buildNeighborSolicitation({ sourceMac: mac, sourceIp: UNSPECIFIED_IPV6, target: record.ip }));
          this.counters.probesSent++;
        }
        break;
      case 'announce':
        if (effect.first) {
          // Clients move to us on the first announcement: the address must be local by then.
          this.syncBinding(record);
          void this.addressQueue.then(() => this.announce(record, true));
        } else {
          this.announce(record, false);
        }
        break;
      case 'conflict':
        this.counters.conflicts++;
        this.logger.warn({ ip: record.ip, foreignMac: effect.foreignMac, interface: effect.interface, retryInMs: effect.retryInMs }, 'address in use by another host: not announcing it');
        this.emit({ type: 'conflict', ip: record.ip, foreignMac: effect.foreignMac, interface: effect.interface, retryInMs: effect.retryInMs });
        break;
      case 'withdraw':
        record.bindTo = [];
        this.syncBinding(record);
        if (effect.byMac !== undefined) {
          this.counters.takeovers++;
          this.emit({ type: 'takenOver', ip: record.ip, byMac: effect.byMac });
        }
        this.emit({ type: 'withdrawn', ip: record.ip, reason: effect.reason });
        break;
    }
  }

  private announce(record: ClaimRecord, first: boolean): void {
    // The claim may have been released while the address was being bound.
    if (this.claims.get(record.ip) !== record || !answersRequests(record.claim)) return;
    for (const entry of this.socketsOf(record)) {
      const mac = entry.socket.interface.mac;
      this.send(entry, record.family === 4 ? buildGratuitousArp({ mac, ip: record.ip }) : buildUnsolicitedNeighborAdvertisement({ mac, ip: record.ip }));
      this.counters.announcementsSent++;
      this.countFrame(record.ip, 'gratuitousSent');
      if (first) this.emit({ type: 'announced', ip: record.ip, interface: entry.socket.interface.name });
    }
  }

  private countFrame(ip: string, kind: keyof IpFrameCounts): void {
    const counts = this.framesByIp.get(ip) ?? { requestsReceived: 0, responsesSent: 0, gratuitousSent: 0 };
    counts[kind]++;
    this.framesByIp.set(ip, counts);
  }

  private send(entry: InterfaceSocket, frame: Buffer): void {
    try {
      entry.socket.send(frame);
    } catch (error) {
      this.counters.socketErrors++;
      this.logger.error({ interface: entry.socket.interface.name, err: (error as Error).message }, 'sending a frame failed');
    }
  }

  private emit(event: L2AnnouncerEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /** Adds/removes the address so that it is on exactly `record.bindTo` (queued, through bind.ts). */
  private syncBinding(record: ClaimRecord): void {
    for (const device of record.bindTo) {
      if (record.bound.has(device)) continue;
      record.bound.add(device);
      this.warnIfKernelAnswers(device, record);
      this.queueAddress(() => bindAddress(record.ip, device), `add ${record.ip} to ${device}`, {
        ...(record.family === 6 ? { ready: record.ip } : {}),
        onFailure: (error) => {
          // Not added: the next apply tries again.
          record.bound.delete(device);
          this.emit({ type: 'bindFailed', ip: record.ip, interface: device, error });
        },
      });
    }
    for (const device of [...record.bound]) {
      if (record.bindTo.includes(device)) continue;
      record.bound.delete(device);
      this.queueAddress(() => unbindAddress(record.ip, device), `remove ${record.ip} from ${device}`);
    }
  }

  /** `ready`: an IPv6 address whose local route to wait for; `onFailure`: told the error message. */
  private queueAddress(change: () => Promise<void>, description: string, options: { ready?: string; onFailure?: (error: string) => void } = {}): void {
    const { ready, onFailure } = options;
    this.addressQueue = this.addressQueue.then(async () => {
      try {
        await change();
      } catch (error) {
        this.counters.bindErrors++;
        const message = error instanceof Error ? error.message : String(error);
        this.logger.error({ change: description, err: message }, 'bindToInterface: changing the address failed');
        onFailure?.(message);
        return;
      }
      if (ready !== undefined) await this.untilLocal(ready);
    });
  }

  /**
   * The kernel installs an IPv6 address's local route from a work queue after `ip addr add`
   * returns; packets for the address arriving before that are dropped. Waits for the route
   * (bounded) so that the first unsolicited NA only goes out once the address really is local.
   */
  private async untilLocal(ip: string): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const result = await runIp(['-6', 'route', 'show', 'table', 'local', ip]);
      if (result.stdout.includes('local')) return;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    this.logger.warn({ ip }, 'bindToInterface: the local route of the address did not appear; announcing anyway');
  }

  /** The kernel must neither answer ARP for a bound address nor use it as ARP sender (see the file comment). */
  private warnIfKernelAnswers(device: string, record: ClaimRecord): void {
    if (record.family !== 4) return;
    const setting = (scope: string, name: string): number => {
      try {
        return Number(readFileSync(`/proc/sys/net/ipv4/conf/${scope}/${name}`, 'utf8').trim());
      } catch {
        return 0;
      }
    };
    for (const name of record.interfaces) {
      if (name === device) continue;
      if (Math.max(setting('all', 'arp_ignore'), setting(name, 'arp_ignore')) === 0 || Math.max(setting('all', 'arp_announce'), setting(name, 'arp_announce')) < 2) {
        this.logger.warn(
          { ip: record.ip, interface: name, bindToInterface: device },
          `with the address on ${device} the kernel answers ARP for it on ${name} and sends ARP from it: set net.ipv4.conf.${name}.arp_ignore=1 and arp_announce=2`,
        );
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // sockets and frames

  private socketsOf(record: ClaimRecord): InterfaceSocket[] {
    return record.interfaces.flatMap((name) => {
      const entry = this.sockets.get(name);
      return entry ? [entry] : [];
    });
  }

  /** One socket per interface some claim uses; solicited-node groups joined for IPv6 claims. */
  private syncSockets(): void {
    const groupsWanted = new Map<string, Set<string>>();
    for (const record of this.claims.values()) {
      for (const name of record.interfaces) {
        const groups = groupsWanted.get(name) ?? new Set<string>();
        if (record.family === 6) groups.add(ipv6MulticastMac(solicitedNodeMulticast(record.ip)));
        groupsWanted.set(name, groups);
      }
    }
    for (const [name, entry] of this.sockets) {
      if (!groupsWanted.has(name)) {
        entry.socket.close();
        this.sockets.delete(name);
      }
    }
    for (const [name, groups] of groupsWanted) {
      // A link known to be absent is not tried (and not logged) on every change: linksChanged says when it comes.
      if (!this.sockets.has(name) && this.links && !this.links.has(name)) continue;
      const entry = this.sockets.get(name) ?? this.open(name);
      if (!entry) continue;
      for (const group of groups) if (!entry.groups.has(group)) this.membership(entry, group, true);
      for (const group of entry.groups) if (!groups.has(group)) this.membership(entry, group, false);
    }
  }

  private membership(entry: InterfaceSocket, group: string, join: boolean): void {
    try {
      if (join) entry.socket.joinMulticast(macToBytes(group, 'group'));
      else entry.socket.leaveMulticast(macToBytes(group, 'group'));
      if (join) entry.groups.add(group);
      else entry.groups.delete(group);
    } catch (error) {
      this.counters.socketErrors++;
      this.logger.error({ interface: entry.socket.interface.name, group, err: (error as Error).message }, 'multicast membership change failed');
    }
  }

  private open(name: string): InterfaceSocket | undefined {
    try {
      const socket = PacketSocket.open({
        interface: name,
        filter: 'arp+ndp',
        onFrame: (bytes) => this.onFrame(name, bytes),
        onError: (error) => {
          this.counters.socketErrors++;
          this.logger.error({ interface: name, err: error.message }, 'raw socket failed; reopened on the next apply');
          this.sockets.get(name)?.socket.close();
          this.sockets.delete(name);
        },
      });
      const entry = { socket, groups: new Set<string>() };
      this.sockets.set(name, entry);
      this.freshSockets.add(name);
      return entry;
    } catch (error) {
      this.counters.socketErrors++;
      this.logger.error({ interface: name, err: (error as Error).message }, 'cannot open a raw socket on the interface; not answering there');
      return undefined;
    }
  }

  private onFrame(interfaceName: string, bytes: Buffer): void {
    const entry = this.sockets.get(interfaceName);
    const parsed = parseFrame(bytes);
    if (!entry || !parsed.ok) return;
    const ownMac = entry.socket.interface.mac;
    const { sighting, question } = observe(parsed.frame);
    const claimed = sighting && sighting.mac !== ownMac ? this.claims.get(sighting.ip) : undefined;
    if (sighting && claimed?.interfaces.includes(interfaceName)) {
      if (answersProbes(claimed.claim)) {
        this.counters.foreignAnnouncements++;
        this.logger.warn({ ip: claimed.ip, foreignMac: sighting.mac, interface: interfaceName }, 'another host announces an address we answer for');
      }
      this.perform(claimed, foreignClaim(claimed.claim, performance.now(), claimed.timing, sighting.mac, interfaceName));
      this.afterChange();
    }
    if (!question) return;
    const record = this.claims.get(question.ip);
    if (!record?.interfaces.includes(interfaceName)) return;
    if (!question.probe) this.countFrame(record.ip, 'requestsReceived');
    if (!(question.probe ? answersProbes(record.claim) : answersRequests(record.claim))) return;
    this.countFrame(record.ip, 'responsesSent');
    if (parsed.frame.kind === 'arp') {
      this.send(entry, buildArpReply(parsed.frame.arp, ownMac));
      this.counters.arpRepliesSent++;
    } else if (parsed.frame.ndp.type === 'solicitation') {
      const request = { ...parsed.frame, ndp: parsed.frame.ndp };
      this.send(
        entry,
        answersOverride(record.claim)
          ? buildNeighborAdvertisementReply(request, ownMac)
          : buildNeighborAdvertisement({
              mac: ownMac,
              target: request.ndp.target,
              destinationIp: request.ipv6.source,
              destinationMac: request.ndp.sourceLinkAddress ?? request.ethernet.source,
              solicited: true,
              override: false,
            }),
      );
      this.counters.neighborAdvertisementsSent++;
    }
  }

  /** Re-arms the single timer for the earliest deadline; wakes waiters when nothing is held. */
  private afterChange(): void {
    this.syncSockets();
    if (this.freshSockets.size > 0) {
      // A link that appeared (or came back) for an IP already announced: clients there learn it now.
      const now = performance.now();
      for (const record of this.claims.values()) {
        if (record.claim.phase === 'announced' && record.interfaces.some((name) => this.freshSockets.has(name))) this.perform(record, reclaim(record.claim, now, record.timing));
      }
      this.freshSockets.clear();
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    let earliest: number | undefined;
    for (const record of this.claims.values()) {
      const due = nextWakeAt(record.claim);
      if (due !== undefined && (earliest === undefined || due < earliest)) earliest = due;
    }
    if (earliest !== undefined) this.timer = setTimeout(() => this.onTimer(), Math.max(0, earliest - performance.now()));
    if (this.claims.size === 0) this.resolveIdle();
  }

  private onTimer(): void {
    const now = performance.now();
    for (const record of [...this.claims.values()]) this.perform(record, advanceClaim(record.claim, now, record.timing));
    this.afterChange();
  }
}

function runIp(args: string[]): Promise<{ failed: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ip', args, { timeout: 10_000 }, (error, stdout, stderr) => resolve({ failed: error !== null, stdout, stderr: stderr.trim() || (error?.message ?? '') }));
  });
}
