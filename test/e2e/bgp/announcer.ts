/**
 * Our speaker (`anchorlb bgp-announce`) as a child process inside a testbed namespace:
 * its JSON events collected from stdout, commands written to stdin.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { waitFor, type Host, type Testbed } from '../../support/testbed.ts';

const BIN = fileURLToPath(new URL('../../../bin/anchorlb.js', import.meta.url));

export interface AnnouncerEvent {
  event: string;
  [key: string]: unknown;
}

export interface PeerStatusLine {
  address: string;
  state: string;
  advertised: number;
  stats: { routeRefreshReceived: number; prefixesReceived: number; treatAsWithdraw: number; updatesSent: number; lastError?: string };
}

export class Announcer {
  readonly events: AnnouncerEvent[] = [];
  private stderr = '';

  private constructor(
    private readonly testbed: Testbed,
    readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as AnnouncerEvent;
        if (typeof parsed.event === 'string') this.events.push(parsed);
      } catch {
        // a log line, not an event
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  /**
   * Starts `anchorlb bgp-announce ARGS` in `host`'s namespace, with --source set to its IPv4
   * address (the IPv6 next hop is left to the speaker: the global address on that interface). `entry`: another script taking the same arguments (tsx-loaded, like bin/anchorlb.js).
   */
  static async start(testbed: Testbed, host: Host, args: string[], entry?: string): Promise<Announcer> {
    if (entry !== undefined) {
      const child = await testbed.spawn(host.ns, [process.execPath, '--import', 'tsx', entry, 'bgp-announce', '--source', host.ipv4, ...args], { pipe: true });
      return new Announcer(testbed, child);
    }
    return Announcer.command(testbed, host, ['bgp-announce', '--source', host.ipv4, ...args]);
  }

  /** Any `anchorlb` command with the same JSON-events-on-stdout, commands-on-stdin shape (e.g. `bfd`). */
  static async command(testbed: Testbed, host: Host, argv: string[]): Promise<Announcer> {
    const child = await testbed.spawn(host.ns, [process.execPath, BIN, ...argv], { pipe: true });
    return new Announcer(testbed, child);
  }

  /** Waits for an event matching `match`; fails with the process's stderr if it exited. */
  async waitForEvent(what: string, match: (e: AnnouncerEvent) => boolean, timeoutMs = 30_000): Promise<AnnouncerEvent> {
    return waitFor(
      what,
      () => {
        const found = this.events.find(match);
        if (found) return found;
        if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`anchorlb ${this.child.spawnargs.slice(6, 7).join(' ')} exited (${this.child.exitCode ?? this.child.signalCode}): ${this.stderr}`);
        return undefined;
      },
      timeoutMs,
      20,
    );
  }

  established(timeoutMs = 150_000): Promise<AnnouncerEvent> {
    return this.waitForEvent('session established', (e) => e.event === 'established', timeoutMs);
  }

  send(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  /** Asks for, and returns, the status of its one peer. */
  async status(): Promise<PeerStatusLine> {
    const before = this.events.length;
    this.send('status');
    const line = await this.waitForEvent('status', (e) => e.event === 'status' && this.events.indexOf(e) >= before, 10_000);
    const peers = line.peers as PeerStatusLine[];
    if (!peers[0]) throw new Error('status without a peer');
    return peers[0];
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.testbed.kill(this.child, signal);
  }

  /** Waits for the process to exit by itself (after shutdown/restart). */
  async exited(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await new Promise((resolve) => this.child.once('exit', resolve));
  }
}
