/**
 * Holding announced IPs on a local interface (`bindToInterface`): `lo`, or a named dummy
 * interface created on first use. Through iproute2, so the kernel answers for the VIP
 * (host-originated traffic, SNAT) while the node announces it. Shared by the L2 and BGP
 * announcers: one reference count per (address, interface) in the process, so one announcer
 * releasing an address never removes it from under the other.
 *
 * What this process added is recorded in a state file (`defaultBindStateFile`, under
 * BIND_STATE_DIR, /run/anchorlb: tmpfs, so a reboot forgets it along with the addresses; the
 * speaker DaemonSet mounts the host's directory there, so the record outlives the pod). A speaker
 * killed without cleaning up leaves its addresses on the node; the next start reads the record
 * and removes those the desired state no longer wants (`releaseLeftovers`). Only recorded
 * addresses are ever removed: one the admin put on the interface is not ours, even when an
 * announcer also asks for it. The record is written before an address is added and after it is
 * removed, so a crash in between leaves at most a recorded address that is not there, never the
 * reverse: an address whose record cannot be written is not added (`bind` rejects, naming the
 * file and the error).
 */
import { execFile } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import type { Logger } from '../common/log.ts';
import { canonicalIp } from './l2/frames.ts';

const INTERFACE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;
const STATE_VERSION = 1;

/** An address held on an interface. */
export interface Binding {
  address: string;
  iface: string;
}

/** Where the records are kept: the speaker DaemonSet mounts the host's /run/anchorlb here (src/operator/render.ts). */
export const BIND_STATE_DIR = '/run/anchorlb';

/**
 * `/run/anchorlb/bound-<node>-net<inode>.json`: addresses belong to a network namespace, so two
 * speakers of the same node name in different namespaces (test clusters on one host) never read
 * each other's record. The host's namespace keeps its inode until reboot, when /run is emptied.
 */
export function defaultBindStateFile(nodeName: string, netns = currentNetworkNamespace()): string {
  return `${BIND_STATE_DIR}/bound-${encodeURIComponent(nodeName)}${netns === undefined ? '' : `-net${netns}`}.json`;
}

function currentNetworkNamespace(): string | undefined {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))?.[1];
  } catch {
    return undefined;
  }
}

/** Validated and canonical (RFC 5952), so both announcers name an address the same way. */
export function checkBinding(address: string, iface: string): Binding {
  if (!INTERFACE_NAME.test(iface)) throw new Error(`bindToInterface: "${iface}" is not an interface name`);
  const canonical = canonicalIp(address);
  if (canonical === undefined) throw new Error(`bindToInterface ${iface}: "${address}" is not an IP address`);
  return { address: canonical, iface };
}

function keyOf(binding: Binding): string {
  return `${binding.address}%${binding.iface}`;
}

// ---------------------------------------------------------------------------------------------
// pure: the state file and the ledger of who holds what

/** The state file's text for `bound` (sorted, so equal sets give equal files). */
export function formatBindState(nodeName: string, bound: Iterable<Binding>): string {
  const entries = [...bound].sort((a, b) => keyOf(a).localeCompare(keyOf(b))).map((b) => ({ address: b.address, interface: b.iface }));
  return `${JSON.stringify({ version: STATE_VERSION, node: nodeName, bound: entries }, null, 2)}\n`;
}

/** The bindings recorded in a state file; throws naming the field and value when it is not one. */
export function parseBindState(text: string, file: string): Binding[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: not JSON (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${file}: expected an object, got ${JSON.stringify(parsed)}`);
  const { version, bound } = parsed as Record<string, unknown>;
  if (version !== STATE_VERSION) throw new Error(`${file}: version ${JSON.stringify(version)} is not supported (expected ${STATE_VERSION})`);
  if (!Array.isArray(bound)) throw new Error(`${file}: bound must be a list, got ${JSON.stringify(bound)}`);
  return bound.map((entry: unknown, index) => {
    const fields = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : {};
    const { address, interface: iface } = fields;
    if (typeof address !== 'string') throw new Error(`${file}: bound[${index}].address must be a string, got ${JSON.stringify(address)}`);
    if (typeof iface !== 'string') throw new Error(`${file}: bound[${index}].interface must be a string, got ${JSON.stringify(iface)}`);
    try {
      return checkBinding(address, iface);
    } catch (error) {
      throw new Error(`${file}: bound[${index}]: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  });
}

/** The bindings a desired state needs on this node: L2 announcements and BGP bound addresses. */
export function wantedBindings(view: {
  l2?: { announcements: ReadonlyMap<string, { bindToInterfaces: readonly string[] }> } | undefined;
  bgp?: { boundAddresses: ReadonlyMap<string, readonly string[]> } | undefined;
}): Binding[] {
  const l2 = [...(view.l2?.announcements ?? [])].flatMap(([address, announcement]) => announcement.bindToInterfaces.map((iface) => ({ address, iface })));
  const bgp = [...(view.bgp?.boundAddresses ?? [])].flatMap(([address, interfaces]) => interfaces.map((iface) => ({ address, iface })));
  return [...l2, ...bgp].flatMap((b) => {
    const canonical = canonicalIp(b.address);
    return canonical === undefined ? [] : [{ address: canonical, iface: b.iface }];
  });
}

interface Held {
  binding: Binding;
  count: number;
  /** Added (or left over) by this process, so removed on the last release; false: the admin's. */
  ours: boolean;
}

/**
 * Who holds which binding, and what the kernel must be told. No I/O: `acquire` and `release`
 * say whether to add or remove; the caller reports a failed add with `abandon` and a failed
 * removal with `keepAsLeftover` (retried by the next `sweep`).
 */
export class BindLedger {
  private readonly held = new Map<string, Held>();
  private readonly leftovers = new Map<string, Binding>();

  /** `leftovers`: what a previous run recorded and nobody holds yet. */
  constructor(leftovers: Iterable<Binding> = []) {
    for (const binding of leftovers) this.leftovers.set(keyOf(binding), binding);
  }

  /** One more holder of `binding`; `present`: the address is on the interface now. Returns whether to add it. */
  acquire(binding: Binding, present: boolean): { add: boolean } {
    const key = keyOf(binding);
    const held = this.held.get(key);
    if (held) {
      held.count++;
      return { add: false };
    }
    const leftOver = this.leftovers.delete(key);
    this.held.set(key, { binding, count: 1, ours: leftOver || !present });
    return { add: !present };
  }

  /** Undoes an `acquire` whose add failed. */
  abandon(binding: Binding): void {
    const key = keyOf(binding);
    const held = this.held.get(key);
    if (held && --held.count === 0) this.held.delete(key);
  }

  /** One holder fewer; returns whether to remove the address (the last holder, and ours). */
  release(binding: Binding): { remove: boolean } {
    const key = keyOf(binding);
    const held = this.held.get(key);
    if (!held) return { remove: false };
    if (--held.count > 0) return { remove: false };
    this.held.delete(key);
    return { remove: held.ours };
  }

  keepAsLeftover(binding: Binding): void {
    this.leftovers.set(keyOf(binding), binding);
  }

  /** Leftovers `wanted` does not contain: to remove. They stay leftovers until `forgetLeftover`. */
  unwantedLeftovers(wanted: Iterable<Binding>): Binding[] {
    const keep = new Set([...wanted].map(keyOf));
    return [...this.leftovers.entries()].filter(([key]) => !keep.has(key)).map(([, binding]) => binding);
  }

  /** A leftover removed (or found gone). */
  forgetLeftover(binding: Binding): void {
    this.leftovers.delete(keyOf(binding));
  }

  /** What the state file must list: ours, held or left over. */
  recorded(): Binding[] {
    return [...[...this.held.values()].filter((h) => h.ours).map((h) => h.binding), ...this.leftovers.values()];
  }

  holders(binding: Binding): number {
    return this.held.get(keyOf(binding))?.count ?? 0;
  }
}

// ---------------------------------------------------------------------------------------------
// I/O

function ip(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ip', args, { timeout: 10_000 }, (error, _stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stderr: stderr.trim() });
    });
  });
}

function prefixOf(binding: Binding): string {
  return `${binding.address}/${net.isIPv6(binding.address) ? 128 : 32}`;
}

/** Addresses on `iface` now (empty when it does not exist). */
export function addressesOn(iface: string): Set<string> {
  return new Set((networkInterfaces()[iface] ?? []).map((a) => a.address));
}

/** Every address on this host's interfaces (e.g. to check a BGP sourceAddress). */
export function localAddresses(): Set<string> {
  return new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address)));
}

async function addToInterface(binding: Binding): Promise<void> {
  const { iface, address } = binding;
  if (iface !== 'lo' && networkInterfaces()[iface] === undefined) {
    const added = await ip(['link', 'add', iface, 'type', 'dummy']);
    if (added.code !== 0 && !added.stderr.includes('File exists')) throw new Error(`bindToInterface: cannot create dummy interface ${iface}: ${added.stderr}`);
  }
  const up = await ip(['link', 'set', iface, 'up']);
  if (up.code !== 0) throw new Error(`bindToInterface: cannot bring ${iface} up: ${up.stderr}`);
  // nodad: usable at once (no duplicate detection for an address every announcing node holds).
  const result = await ip(['addr', 'add', prefixOf(binding), 'dev', iface, ...(net.isIPv6(address) ? ['nodad'] : [])]);
  if (result.code !== 0 && !result.stderr.includes('File exists')) throw new Error(`bindToInterface: cannot add ${address} to ${iface}: ${result.stderr}`);
}

async function removeFromInterface(binding: Binding): Promise<void> {
  if (!addressesOn(binding.iface).has(binding.address)) return;
  const result = await ip(['addr', 'del', prefixOf(binding), 'dev', binding.iface]);
  if (result.code !== 0 && !/Cannot assign|not found/i.test(result.stderr)) throw new Error(`bindToInterface: cannot remove ${binding.address} from ${binding.iface}: ${result.stderr}`);
}

/** The process's bindings: ledger, kernel and state file kept in step, one change at a time. */
export class Bindings {
  private ledger = new BindLedger();
  private record: { file: string; nodeName: string; logger: Logger } | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Reads what a previous run of this node recorded (leftovers, removed by `releaseLeftovers`)
   * and records from now on. An unreadable record is logged and replaced: its addresses are
   * then left alone, never guessed at.
   */
  init(options: { stateFile: string; nodeName: string; logger: Logger }): Promise<Binding[]> {
    return this.serially(async () => {
      const { stateFile, nodeName, logger } = options;
      let leftovers: Binding[] = [];
      try {
        leftovers = parseBindState(await readFile(stateFile, 'utf8'), stateFile);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') logger.error({ stateFile, err: error instanceof Error ? error.message : String(error) }, 'bindToInterface: the record of bound addresses is unusable; addresses a previous run left are not removed');
      }
      this.ledger = new BindLedger(leftovers);
      this.record = { file: stateFile, nodeName, logger };
      if (leftovers.length > 0) logger.info({ stateFile, leftovers }, 'bindToInterface: addresses a previous run bound, removed unless still wanted');
      // Not writable: reported here, and every address to add is refused until it is.
      await this.save().catch((error: unknown) => this.reportUnrecorded(error));
      return leftovers;
    });
  }

  /** Holds `address` on `iface` (added unless already there); one `unbind` per `bind`. */
  async bind(address: string, iface: string): Promise<void> {
    const binding = checkBinding(address, iface);
    return this.serially(async () => {
      // Sharing, adopting a leftover or leaving the admin's address: the record does not change.
      if (!this.ledger.acquire(binding, addressesOn(iface).has(binding.address)).add) return;
      try {
        await this.save();
      } catch (error) {
        // Unrecorded, a killed speaker's address could never be cleaned up: not added at all.
        this.ledger.abandon(binding);
        throw new Error(`bindToInterface: ${binding.address} not added to ${iface}: ${errorText(error)}`, { cause: error });
      }
      try {
        await addToInterface(binding);
      } catch (error) {
        this.ledger.abandon(binding);
        await this.save().catch((saveError: unknown) => this.reportUnrecorded(saveError));
        throw error;
      }
    });
  }

  /** Gives up one hold; the last one removes the address if this process added it. */
  async unbind(address: string, iface: string): Promise<void> {
    const binding = checkBinding(address, iface);
    return this.serially(async () => {
      if (!this.ledger.release(binding).remove) return;
      try {
        await removeFromInterface(binding);
      } catch (error) {
        this.ledger.keepAsLeftover(binding);
        throw error;
      } finally {
        // Removed but still recorded at worst: a later run finds it gone, which is harmless.
        await this.save().catch((error: unknown) => this.reportUnrecorded(error));
      }
    });
  }

  /** Removes leftovers of a previous run that `wanted` does not contain; returns those removed. */
  releaseLeftovers(wanted: Iterable<Binding>): Promise<Binding[]> {
    return this.serially(async () => {
      const removed: Binding[] = [];
      const failures: string[] = [];
      for (const binding of this.ledger.unwantedLeftovers(wanted)) {
        try {
          await removeFromInterface(binding);
          this.ledger.forgetLeftover(binding);
          removed.push(binding);
        } catch (error) {
          // Stays a leftover: tried again with the next desired state.
          failures.push(error instanceof Error ? error.message : String(error));
        }
      }
      if (removed.length > 0) await this.save().catch((error: unknown) => this.reportUnrecorded(error));
      if (failures.length > 0) throw new Error(failures.join('; '));
      return removed;
    });
  }

  /** Writes the record; throws naming the file and the error when it cannot. */
  private async save(): Promise<void> {
    if (!this.record) return;
    const { file, nodeName } = this.record;
    try {
      const recorded = this.ledger.recorded();
      // Nothing bound, nothing to record: a cleanly stopped speaker leaves no file behind.
      if (recorded.length === 0) return await rm(file, { force: true });
      await mkdir(path.dirname(file), { recursive: true });
      // Through a rename: a crash mid-write leaves the old record, never half of one.
      const partial = `${file}.${process.pid}.tmp`;
      await writeFile(partial, formatBindState(nodeName, recorded));
      await rename(partial, file);
    } catch (error) {
      throw new Error(`cannot record the bound addresses in ${file}: ${errorText(error)}`, { cause: error });
    }
  }

  private reportUnrecorded(error: unknown): void {
    this.record?.logger.error({ stateFile: this.record.file, err: errorText(error) }, 'bindToInterface: cannot record the bound addresses');
  }

  private serially<T>(step: () => Promise<T>): Promise<T> {
    const result = this.queue.then(step);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The process's one set of bindings, shared by the announcers. */
export const bindings = new Bindings();

/** Adds `address` as a host route on `iface`; a missing non-`lo` interface is created as a dummy. */
export function bindAddress(address: string, iface: string): Promise<void> {
  return bindings.bind(address, iface);
}

/** Gives up this holder's claim; removed when no holder is left and this process added it. */
export function unbindAddress(address: string, iface: string): Promise<void> {
  return bindings.unbind(address, iface);
}
