/**
 * This node's links, watched: interfaces appear after the speaker started (VLANs, bonds,
 * re-plugged NICs) and go away. A netlink socket on the link group (src/native LinkEvents) wakes a
 * re-read of sysfs at once; a slow periodic re-read covers events that cannot be had.
 * Only a change is reported: names added or removed, links re-created under the same name
 * (another ifindex: a raw socket on the old one hears nothing), or a different announceable set.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../common/log.ts';
import { LinkEvents } from '../../native/index.ts';
import { isAnnounceable, readLinkFacts } from './interfaces.ts';

export interface LinkState {
  /** Every link of this network namespace → its ifindex. */
  indexes: Map<string, number>;
  /** The links an advertisement naming no interface is announced on (interfaces.ts), sorted. */
  announceable: string[];
}

export interface LinkChange {
  added: string[];
  removed: string[];
  /** Same name, another ifindex: deleted and created again. */
  recreated: string[];
  announceable: string[];
}

/** Reads every link's ifindex and which links are announceable. */
export function readLinkState(sysfs = '/sys/class/net'): LinkState {
  const indexes = new Map<string, number>();
  const announceable: string[] = [];
  for (const name of readdirSync(sysfs).sort()) {
    try {
      indexes.set(name, Number(readFileSync(join(sysfs, name, 'ifindex'), 'utf8').trim()));
    } catch {
      continue; // gone between listing and reading
    }
    const facts = readLinkFacts(name, sysfs);
    if (facts && isAnnounceable(facts)) announceable.push(name);
  }
  return { indexes, announceable };
}

/** What changed from `before` to `after`; undefined when nothing did. Pure. */
export function diffLinks(before: LinkState, after: LinkState): LinkChange | undefined {
  const added = [...after.indexes.keys()].filter((name) => !before.indexes.has(name));
  const removed = [...before.indexes.keys()].filter((name) => !after.indexes.has(name));
  const recreated = [...after.indexes].filter(([name, index]) => before.indexes.has(name) && before.indexes.get(name) !== index).map(([name]) => name);
  const sameAnnounceable = before.announceable.length === after.announceable.length && before.announceable.every((name, i) => after.announceable[i] === name);
  if (added.length === 0 && removed.length === 0 && recreated.length === 0 && sameAnnounceable) return undefined;
  return { added, removed, recreated, announceable: after.announceable };
}

export interface LinkWatcherOptions {
  logger: Logger;
  /** The state the caller started from: a change since is reported at start. */
  initial: LinkState;
  onChange: (state: LinkState, change: LinkChange) => void;
  /** Backstop re-read (default 10 s). */
  pollMs?: number;
  sysfs?: string;
}

/** Quiet time after a link event before the re-read: one re-read for a burst (a VLAN brought up is several messages). */
const SETTLE_MS = 50;

export class LinkWatcher {
  private state: LinkState;
  private events: LinkEvents | undefined;
  private poll: NodeJS.Timeout | undefined;
  private settle: NodeJS.Timeout | undefined;
  private restart: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: LinkWatcherOptions) {
    this.state = options.initial;
  }

  start(): void {
    this.startEvents();
    this.poll = setInterval(() => this.reread(), this.options.pollMs ?? 10_000);
    this.poll.unref();
    this.reread();
  }

  /** Stops the link events and the timers. Idempotent. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.poll);
    clearTimeout(this.settle);
    clearTimeout(this.restart);
    this.events?.close();
    this.events = undefined;
  }

  private startEvents(): void {
    if (this.stopped) return;
    const pollMs = this.options.pollMs ?? 10_000;
    try {
      this.events = new LinkEvents(
        () => {
          this.settle ??= setTimeout(() => {
            this.settle = undefined;
            this.reread();
          }, SETTLE_MS);
        },
        (error) => {
          this.options.logger.warn({ err: error.message }, 'link events (netlink) failed; reopened later, links re-read meanwhile');
          this.events?.close();
          this.events = undefined;
          this.restart = setTimeout(() => this.startEvents(), pollMs);
          this.restart.unref();
          this.reread();
        },
      );
    } catch (error) {
      this.options.logger.warn({ err: error instanceof Error ? error.message : String(error), everyMs: pollMs }, 'cannot watch link events (netlink); re-reading the links periodically');
    }
  }

  private reread(): void {
    if (this.stopped) return;
    let next: LinkState;
    try {
      next = readLinkState(this.options.sysfs);
    } catch (error) {
      this.options.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'cannot read the network interfaces');
      return;
    }
    const change = diffLinks(this.state, next);
    this.state = next;
    if (change) this.options.onChange(next, change);
  }
}
