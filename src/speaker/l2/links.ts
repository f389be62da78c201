/**
 * This node's links, watched: interfaces appear after the speaker started (VLANs, bonds,
 * re-plugged NICs) and go away. `ip -o monitor link` (iproute2, one child process) wakes a
 * re-read of sysfs at once; a slow periodic re-read covers a monitor that died or is missing.
 * Only a change is reported: names added or removed, links re-created under the same name
 * (another ifindex: a raw socket on the old one hears nothing), or a different announceable set.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../common/log.ts';
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

/** Quiet time after a monitor line before the re-read: one re-read for a burst (a VLAN brought up is several messages). */
const SETTLE_MS = 50;

export class LinkWatcher {
  private state: LinkState;
  private monitor: ChildProcess | undefined;
  private poll: NodeJS.Timeout | undefined;
  private settle: NodeJS.Timeout | undefined;
  private restart: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: LinkWatcherOptions) {
    this.state = options.initial;
  }

  start(): void {
    this.startMonitor();
    this.poll = setInterval(() => this.reread(), this.options.pollMs ?? 10_000);
    this.poll.unref();
    this.reread();
  }

  /** Stops the monitor (our child, by its handle) and the timers. Idempotent. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.poll);
    clearTimeout(this.settle);
    clearTimeout(this.restart);
    this.monitor?.kill();
    this.monitor = undefined;
  }

  private startMonitor(): void {
    if (this.stopped) return;
    const child = spawn('ip', ['-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.monitor = child;
    child.stdout?.on('data', () => {
      this.settle ??= setTimeout(() => {
        this.settle = undefined;
        this.reread();
      }, SETTLE_MS);
    });
    child.on('error', (error) => this.options.logger.warn({ err: error.message }, 'cannot watch links with `ip monitor link`; re-reading them periodically'));
    child.on('exit', (code, signal) => {
      if (this.stopped || this.monitor !== child) return;
      this.options.logger.warn({ code, signal }, '`ip monitor link` exited; restarted, links re-read meanwhile');
      this.restart = setTimeout(() => this.startMonitor(), this.options.pollMs ?? 10_000);
      this.restart.unref();
      this.reread();
    });
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
