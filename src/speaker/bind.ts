/**
 * Holding announced IPs on a local interface (`bindToInterface`): `lo`, or a named dummy
 * interface created on first use. Through iproute2, so the kernel answers for the VIP
 * (host-originated traffic, SNAT) while the node announces it. Shared by the L2 and BGP
 * announcers.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import { networkInterfaces } from 'node:os';

const INTERFACE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

function ip(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ip', args, { timeout: 10_000 }, (error, _stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stderr: stderr.trim() });
    });
  });
}

function check(address: string, iface: string): { prefix: string } {
  if (!INTERFACE_NAME.test(iface)) throw new Error(`bindToInterface: "${iface}" is not an interface name`);
  const family = net.isIP(address);
  if (family === 0) throw new Error(`bindToInterface ${iface}: "${address}" is not an IP address`);
  return { prefix: `${address}/${family === 4 ? 32 : 128}` };
}

/** Addresses on `iface` now (empty when it does not exist). */
export function addressesOn(iface: string): Set<string> {
  return new Set((networkInterfaces()[iface] ?? []).map((a) => a.address));
}

/** Every address on this host's interfaces (e.g. to check a BGP sourceAddress). */
export function localAddresses(): Set<string> {
  return new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address)));
}

/** Adds `address` as a host route on `iface`; a missing non-`lo` interface is created as a dummy. Idempotent. */
export async function bindAddress(address: string, iface: string): Promise<void> {
  const { prefix } = check(address, iface);
  if (addressesOn(iface).has(address)) return;
  if (iface !== 'lo' && networkInterfaces()[iface] === undefined) {
    const added = await ip(['link', 'add', iface, 'type', 'dummy']);
    if (added.code !== 0 && !added.stderr.includes('File exists')) throw new Error(`bindToInterface: cannot create dummy interface ${iface}: ${added.stderr}`);
  }
  const up = await ip(['link', 'set', iface, 'up']);
  if (up.code !== 0) throw new Error(`bindToInterface: cannot bring ${iface} up: ${up.stderr}`);
  // nodad: usable at once (no duplicate detection for an address every announcing node holds).
  const result = await ip(['addr', 'add', prefix, 'dev', iface, ...(prefix.includes(':') ? ['nodad'] : [])]);
  if (result.code !== 0 && !result.stderr.includes('File exists')) throw new Error(`bindToInterface: cannot add ${address} to ${iface}: ${result.stderr}`);
}

/** Removes `address` from `iface`; nothing to do when it is not there. */
export async function unbindAddress(address: string, iface: string): Promise<void> {
  const { prefix } = check(address, iface);
  if (!addressesOn(iface).has(address)) return;
  const result = await ip(['addr', 'del', prefix, 'dev', iface]);
  if (result.code !== 0 && !/Cannot assign|not found/i.test(result.stderr)) throw new Error(`bindToInterface: cannot remove ${address} from ${iface}: ${result.stderr}`);
}
