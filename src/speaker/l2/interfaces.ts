/**
 * Which interfaces the announcer answers on when an L2Advertisement names none: every
 * Ethernet interface that is up, does ARP, and is not enslaved to a bridge or bond (the
 * bridge or bond is where the node's L2 presence is, and answering on its ports would
 * answer twice). Read from sysfs, which `ip netns exec` remounts for the namespace.
 * Operators with many pod veths on the host list the interfaces instead.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ARPHRD_ETHER = 1;
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const IFF_NOARP = 0x80;

export interface LinkFacts {
  name: string;
  /** ARPHRD_* from /sys/class/net/NAME/type. */
  type: number;
  /** IFF_* flags from /sys/class/net/NAME/flags. */
  flags: number;
  enslaved: boolean;
}

export function isAnnounceable(link: LinkFacts): boolean {
  return link.type === ARPHRD_ETHER && (link.flags & IFF_UP) !== 0 && (link.flags & (IFF_LOOPBACK | IFF_NOARP)) === 0 && !link.enslaved;
}

export function readLinkFacts(name: string, sysfs = '/sys/class/net'): LinkFacts | undefined {
  try {
    const dir = join(sysfs, name);
    return {
      name,
      type: Number(readFileSync(join(dir, 'type'), 'utf8').trim()),
      flags: Number(readFileSync(join(dir, 'flags'), 'utf8').trim()),
      enslaved: existsSync(join(dir, 'master')),
    };
  } catch {
    return undefined; // gone between listing and reading
  }
}

/** Announceable interfaces of this network namespace, sorted by name. */
export function discoverInterfaces(sysfs = '/sys/class/net'): string[] {
  return readdirSync(sysfs)
    .map((name) => readLinkFacts(name, sysfs))
    .filter((link): link is LinkFacts => link !== undefined && isAnnounceable(link))
    .map((link) => link.name)
    .sort();
}
