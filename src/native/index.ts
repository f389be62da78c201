// Typed wrapper over the native addon (anchorlb_native.c): raw Ethernet frames on AF_PACKET,
// TCP socket options Node lacks (TCP-MD5, TTL, minimum TTL), and UDP sockets that report the
// TTL / hop limit and destination address of each datagram (BFD), and link events (netlink).
//
// The addon is loaded lazily on first use. When it is missing or cannot be loaded, every
// function throws NativeUnavailableError with the reason, and availability() reports the same
// reason up front, so callers fail clearly instead of silently running without raw access or
// without a TCP-MD5 key.
//
// TCP-MD5 for active sessions: the key must be on the socket before the SYN. The addon creates
// an unconnected socket, the key (and TTLs) are set on its fd, and Node adopts the fd with
// `new net.Socket({ fd })` and then connects (binding localAddress itself): libuv connects the
// existing fd. For passive sessions the key goes on the listening socket, per peer address; the
// kernel copies it to every connection it accepts from that peer.
import { closeSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { macFromBytes } from '../common/mac.ts';

/** ANCHORLB_NATIVE_ADDON points at an addon built elsewhere (packaging) or at a broken one (tests). */
const ADDON_PATH = process.env.ANCHORLB_NATIVE_ADDON ?? fileURLToPath(new URL('./build/Release/anchorlb_native.node', import.meta.url));

/** Linux capability number of CAP_NET_RAW (include/uapi/linux/capability.h). */
const CAP_NET_RAW = 13;

/** TCP_MD5SIG_MAXKEYLEN in the Linux UAPI. */
export const TCP_MD5_MAX_KEY_BYTES = 80;

interface NativeInterfaceInfo {
  index: number;
  mac: Buffer;
  mtu: number;
}

/** The addon's exports, as declared in anchorlb_native.c. */
interface NativeAddon {
  interfaceInfo(name: string): NativeInterfaceInfo;
  openPacketSocket(
    interfaceName: string,
    filterMode: number,
    onFrame: (frame: Buffer, packetType: number) => void,
    onError: (error: Error) => void,
  ): object;
  packetSend(handle: object, frame: Buffer): void;
  packetMembership(handle: object, kind: 'multicast' | 'allmulti', mac: Buffer | null, add: boolean): void;
  packetClose(handle: object): void;
  createTcpSocket(family: 4 | 6): number;
  setTcpMd5Key(fd: number, peerAddress: string, key: Buffer): void;
  setIpTtl(fd: number, ttl: number): void;
  setIpMinTtl(fd: number, ttl: number): void;
  openUdpSocket(
    family: 4 | 6,
    localAddress: string,
    port: number,
    ttl: number,
    onPacket: (payload: Buffer, source: string, sourcePort: number, ttl: number, destination: string) => void,
    onError: (error: Error) => void,
  ): object;
  udpSend(handle: object, payload: Buffer, address: string, port: number): void;
  udpClose(handle: object): void;
  openLinkEvents(onChange: () => void, onError: (error: Error) => void): object;
  linkEventsClose(handle: object): void;
}

export type Availability = { available: true } | { available: false; reason: string };

export class NativeUnavailableError extends Error {
  override readonly name = 'NativeUnavailableError';
}

let loaded: { addon: NativeAddon } | { reason: string } | undefined;

function load(): { addon: NativeAddon } | { reason: string } {
  if (loaded) return loaded;
  try {
    // The .node file is a CommonJS-only artefact; createRequire is how ESM loads it.
    loaded = { addon: createRequire(import.meta.url)(ADDON_PATH) as NativeAddon };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    loaded = {
      reason:
        code === 'MODULE_NOT_FOUND'
          ? 'native addon not built: run make setup-native'
          : `native addon failed to load (${error instanceof Error ? error.message : String(error)}): rebuild it with make setup-native`,
    };
  }
  return loaded;
}

function addon(): NativeAddon {
  const result = load();
  if ('reason' in result) throw new NativeUnavailableError(result.reason);
  return result.addon;
}

/** True when the hex capability mask of a /proc/PID/status `CapEff:` line has `capability` set. */
export function hasEffectiveCapability(procStatus: string, capability: number): boolean {
  const match = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(procStatus);
  if (!match?.[1]) return false;
  return ((BigInt(`0x${match[1]}`) >> BigInt(capability)) & 1n) === 1n;
}

/**
 * Whether the addon can be used; with `rawFrames`, also whether this process may open raw
 * sockets (CAP_NET_RAW). The reason is meant for the user, e.g. in a start-up error.
 */
export function availability(need: { rawFrames?: boolean } = {}): Availability {
  const result = load();
  if ('reason' in result) return { available: false, reason: result.reason };
  if (need.rawFrames && !hasEffectiveCapability(readFileSync('/proc/self/status', 'utf8'), CAP_NET_RAW)) {
    return { available: false, reason: 'raw frames need CAP_NET_RAW (run as root or grant the capability)' };
  }
  return { available: true };
}

// ---------------------------------------------------------------------------------------------
// Interfaces and raw frames

export interface InterfaceInfo {
  name: string;
  index: number;
  /** Lower-case colon form, e.g. 02:00:00:00:00:01. */
  mac: string;
  macBytes: Buffer;
  mtu: number;
}

export function interfaceInfo(name: string): InterfaceInfo {
  const info = addon().interfaceInfo(name);
  return { name, index: info.index, mac: macFromBytes(info.mac), macBytes: info.mac, mtu: info.mtu };
}

/** Which frames the kernel lets through to the socket (a classic BPF filter on the socket). */
export type FrameFilter = 'arp' | 'ndp' | 'arp+ndp';

const FILTER_MODES: Record<FrameFilter, number> = { arp: 1, ndp: 2, 'arp+ndp': 3 };

/** sll_pkttype of a received frame (linux/if_packet.h). */
export enum PacketType {
  Host = 0,
  Broadcast = 1,
  Multicast = 2,
  OtherHost = 3,
}

export interface PacketSocketOptions {
  interface: string;
  filter: FrameFilter;
  /** Called for every matching frame received on the interface (never for frames sent from this host). */
  onFrame: (frame: Buffer, packetType: PacketType) => void;
  /** Called when receiving fails; the socket stops receiving and should be closed. */
  onError: (error: Error) => void;
}

/** An AF_PACKET socket bound to one interface. Keeps the process alive until closed. */
export class PacketSocket {
  readonly interface: InterfaceInfo;
  private handle: object | undefined;

  private constructor(info: InterfaceInfo, handle: object) {
    this.interface = info;
    this.handle = handle;
  }

  /** Throws an Error whose `code` is the errno name (EPERM without CAP_NET_RAW, ENODEV for no such interface). */
  static open(options: PacketSocketOptions): PacketSocket {
    const mode = FILTER_MODES[options.filter];
    if (mode === undefined) {
      throw new TypeError(`filter: ${JSON.stringify(options.filter)} is not one of ${Object.keys(FILTER_MODES).join(', ')}`);
    }
    const native = addon();
    const handle = native.openPacketSocket(
      options.interface,
      mode,
      (frame, packetType) => options.onFrame(frame, packetType as PacketType),
      options.onError,
    );
    try {
      return new PacketSocket(interfaceInfo(options.interface), handle);
    } catch (error) {
      native.packetClose(handle);
      throw error;
    }
  }

  get closed(): boolean {
    return this.handle === undefined;
  }

  send(frame: Uint8Array): void {
    addon().packetSend(this.openHandle(), Buffer.isBuffer(frame) ? frame : Buffer.from(frame));
  }

  /** Receive frames sent to this multicast MAC (e.g. an IPv6 solicited-node group's 33:33:ff:xx:xx:xx). */
  joinMulticast(mac: Uint8Array): void {
    addon().packetMembership(this.openHandle(), 'multicast', Buffer.from(mac), true);
  }

  leaveMulticast(mac: Uint8Array): void {
    addon().packetMembership(this.openHandle(), 'multicast', Buffer.from(mac), false);
  }

  /** Receive every multicast frame on the interface (while this socket is open). */
  setAllMulticast(on: boolean): void {
    addon().packetMembership(this.openHandle(), 'allmulti', null, on);
  }

  /** Idempotent. */
  close(): void {
    if (this.handle === undefined) return;
    addon().packetClose(this.handle);
    this.handle = undefined;
  }

  private openHandle(): object {
    if (this.handle === undefined) throw new Error(`raw socket on interface ${this.interface.name} is closed`);
    return this.handle;
  }
}

// ---------------------------------------------------------------------------------------------
// TCP options

/** Anything with an fd: a number, a connected net.Socket or a listening net.Server. */
export type HasFd = number | net.Socket | net.Server;

function fdOf(target: HasFd): number {
  if (typeof target === 'number') return target;
  // Node keeps the fd on the libuv handle (`_handle.fd`, Unix only); it is not in the typings.
  const handle: unknown = (target as unknown as { _handle?: unknown })._handle;
  const fd: unknown = typeof handle === 'object' && handle !== null ? (handle as { fd?: unknown }).fd : undefined;
  if (typeof fd !== 'number' || fd < 0) {
    throw new Error('socket has no file descriptor yet (not connected or not listening)');
  }
  return fd;
}

function keyBytes(key: string | Uint8Array, field: string): Buffer {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
  if (bytes.length > TCP_MD5_MAX_KEY_BYTES) {
    // The key itself is a secret: name its length, never its value.
    throw new RangeError(`${field}: TCP-MD5 key is ${bytes.length} bytes; the limit is ${TCP_MD5_MAX_KEY_BYTES}`);
  }
  return bytes;
}

function ipFamily(address: string, field: string): 4 | 6 {
  const family = net.isIP(address);
  if (family === 0) throw new TypeError(`${field}: ${JSON.stringify(address)} is not an IPv4 or IPv6 address`);
  return family as 4 | 6;
}

/** Sets (or, with an empty key, removes) the TCP-MD5 key for one peer address. */
export function setTcpMd5Key(target: HasFd, peerAddress: string, key: string | Uint8Array): void {
  ipFamily(peerAddress, 'peerAddress');
  addon().setTcpMd5Key(fdOf(target), peerAddress, keyBytes(key, 'key'));
}

/** Outgoing TTL / hop limit (eBGP multihop; 255 for GTSM). */
export function setIpTtl(target: HasFd, ttl: number): void {
  addon().setIpTtl(fdOf(target), ttl);
}

/** Minimum TTL / hop limit accepted on received segments (GTSM, RFC 5082: 255 - hops + 1). */
export function setIpMinTtl(target: HasFd, ttl: number): void {
  addon().setIpMinTtl(fdOf(target), ttl);
}

/** Key every connection from `peerAddress` to this listening server must carry. */
export function addListenerMd5Key(server: net.Server, peerAddress: string, key: string | Uint8Array): void {
  setTcpMd5Key(server, peerAddress, key);
}

export interface Md5ConnectOptions {
  host: string;
  port: number;
  localAddress?: string;
  /** Absent: no key (a session that only needs TTL settings before the SYN). */
  key?: string | Uint8Array;
  ttl?: number;
  minTtl?: number;
  /** Gives up (ETIMEDOUT) when the handshake has not finished: a peer with another key never answers. */
  timeoutMs?: number;
}

/** Connects with the TCP-MD5 key and TTLs set before the SYN. Resolves with the connected socket. */
export function connectTcpWithMd5(options: Md5ConnectOptions): Promise<net.Socket> {
  const family = ipFamily(options.host, 'host');
  if (options.localAddress !== undefined && ipFamily(options.localAddress, 'localAddress') !== family) {
    throw new TypeError(`localAddress: ${options.localAddress} is not of the same family as host ${options.host}`);
  }
  const key = options.key === undefined ? undefined : keyBytes(options.key, 'key');
  const native = addon();
  const fd = native.createTcpSocket(family);
  let socket: net.Socket;
  try {
    if (key !== undefined) native.setTcpMd5Key(fd, options.host, key);
    if (options.ttl !== undefined) native.setIpTtl(fd, options.ttl);
    if (options.minTtl !== undefined) native.setIpMinTtl(fd, options.minTtl);
    // Node adopts the unconnected fd as a TCP handle; connect() below connects that same fd.
    socket = new net.Socket({ fd, readable: true, writable: true });
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return new Promise((resolve, reject) => {
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            const error = Object.assign(
              new Error(`connect to ${options.host}:${options.port} with TCP-MD5 timed out after ${options.timeoutMs} ms`),
              { code: 'ETIMEDOUT' },
            );
            socket.destroy();
            reject(error);
          }, options.timeoutMs);
    const onError = (error: Error): void => {
      clearTimeout(timer);
      reject(error);
    };
    socket.once('error', onError);
    socket.connect({ host: options.host, port: options.port, localAddress: options.localAddress }, () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// UDP with the received TTL (BFD)

export interface Datagram {
  payload: Buffer;
  source: string;
  sourcePort: number;
  /** TTL (IPv4) or hop limit (IPv6) the datagram arrived with; -1 if the kernel did not say. */
  ttl: number;
  /** The address it was sent to (one of ours). */
  destination: string;
}

export interface UdpSocketOptions {
  family: 4 | 6;
  /** Absent: every address of the family. */
  localAddress?: string;
  /** 0: any free port. */
  port: number;
  /** TTL / hop limit of sent datagrams; absent: the system default. */
  ttl?: number;
  onDatagram: (datagram: Datagram) => void;
  /** Receiving failed for good; the socket should be closed. */
  onError: (error: Error) => void;
}

/**
 * A UDP socket read with recvmsg, so each datagram comes with its TTL and destination address,
 * which Node's dgram does not expose. Works in worker threads (the addon is per environment).
 * Keeps its event loop alive until closed. Errors carry `code` (EADDRINUSE, EACCES…).
 */
export class UdpSocket {
  private handle: object | undefined;

  private constructor(
    readonly family: 4 | 6,
    handle: object,
  ) {
    this.handle = handle;
  }

  static open(options: UdpSocketOptions): UdpSocket {
    if (options.localAddress !== undefined && ipFamily(options.localAddress, 'localAddress') !== options.family) {
      throw new TypeError(`localAddress: ${options.localAddress} is not an IPv${options.family} address`);
    }
    const handle = addon().openUdpSocket(options.family, options.localAddress ?? '', options.port, options.ttl ?? 0, (payload, source, sourcePort, ttl, destination) =>
      options.onDatagram({ payload, source, sourcePort, ttl, destination }),
    options.onError);
    return new UdpSocket(options.family, handle);
  }

  get closed(): boolean {
    return this.handle === undefined;
  }

  send(payload: Uint8Array, address: string, port: number): void {
    if (this.handle === undefined) throw new Error(`UDP socket is closed (sending to ${address} port ${port})`);
    addon().udpSend(this.handle, Buffer.isBuffer(payload) ? payload : Buffer.from(payload), address, port);
  }

  /** Idempotent. */
  close(): void {
    if (this.handle === undefined) return;
    addon().udpClose(this.handle);
    this.handle = undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Link events

/**
 * Calls `onChange` after links of this network namespace were added, removed or changed
 * (netlink RTMGRP_LINK; once per burst, the messages themselves are not read: re-read the links).
 * A socket of this process, so nothing outlives it. Keeps its event loop alive until closed.
 */
export class LinkEvents {
  private handle: object | undefined;

  constructor(onChange: () => void, onError: (error: Error) => void) {
    this.handle = addon().openLinkEvents(onChange, onError);
  }

  /** Idempotent. */
  close(): void {
    if (this.handle === undefined) return;
    addon().linkEventsClose(this.handle);
    this.handle = undefined;
  }
}
