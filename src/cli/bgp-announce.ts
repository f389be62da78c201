/**
 * `anchorlb bgp-announce`: one BGP session announcing prefixes, for debugging and for tests.
 *
 * Prints one JSON line per event on stdout ({"event":"state"|"established"|"down"|"status"…}).
 * Reads commands on stdin, one per line: `announce P…`, `withdraw P…`, `status`,
 * `shutdown [text]` (Cease / Administrative Shutdown, then exit), `restart` (close without a
 * NOTIFICATION, as a graceful restart does, then exit).
 * SIGTERM/SIGINT: like `restart` with --graceful-restart (routers keep our routes as stale),
 * otherwise like `shutdown`.
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { createLogger } from '../common/log.ts';
import type { Route, RouteAttributes } from '../bgp/adj-rib-out.ts';
import { parseCommunity, parseLargeCommunity, parsePrefix, type Prefix } from '../bgp/codec/index.ts';
import { BgpSpeaker, type SpeakerPeerConfig } from '../bgp/speaker.ts';

export interface AnnounceCliOptions {
  peer: string;
  peerAs: string;
  localAs: string;
  routerId?: string;
  source?: string;
  port?: string;
  passive?: boolean;
  listen?: string;
  holdTime?: string;
  password?: string;
  prefix?: string[];
  prefixFile?: string;
  community?: string[];
  largeCommunity?: string[];
  localPref?: string;
  med?: string;
  nextHop4?: string;
  nextHop6?: string;
  gracefulRestart?: boolean;
  restartTime?: string;
  restarted?: boolean;
}

export interface AnnounceSetup {
  routerId: string;
  localAsn: number;
  listenPort?: number;
  peer: SpeakerPeerConfig;
  attributes: RouteAttributes;
  prefixes: Prefix[];
}

export function integer(field: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new Error(`${field}: "${text}" is not an integer in ${min}..${max}`);
  return Number(text);
}

function required(field: string, value: number | undefined): number {
  if (value === undefined) throw new Error(`${field} is required`);
  return value;
}

/** Turns command-line options into a speaker and peer configuration; throws naming the option and value. */
export function parseAnnounceOptions(options: AnnounceCliOptions, filePrefixes: readonly Prefix[] = []): AnnounceSetup {
  if (net.isIP(options.peer) === 0) throw new Error(`--peer: "${options.peer}" is not an IP address`);
  if (options.source !== undefined && net.isIP(options.source) === 0) throw new Error(`--source: "${options.source}" is not an IP address`);
  const localAsn = required('--local-as', integer('--local-as', options.localAs, 1, 0xffffffff));
  const peerAsn = required('--peer-as', integer('--peer-as', options.peerAs, 1, 0xffffffff));
  const routerId = options.routerId ?? (options.source !== undefined && net.isIPv4(options.source) ? options.source : undefined);
  if (routerId === undefined) throw new Error('--router-id is required unless --source is an IPv4 address');
  if (!net.isIPv4(routerId)) throw new Error(`--router-id: "${routerId}" is not a dotted quad`);
  const prefixes = (options.prefix ?? []).map((text) => wrap('--prefix', () => parsePrefix(text))).concat(filePrefixes);
  const attributes: RouteAttributes = {
    ...(options.community?.length ? { communities: options.community.map((c) => wrap('--community', () => parseCommunity(c))) } : {}),
    ...(options.largeCommunity?.length ? { largeCommunities: options.largeCommunity.map((c) => wrap('--large-community', () => parseLargeCommunity(c))) } : {}),
    ...(options.localPref !== undefined ? { localPref: integer('--local-pref', options.localPref, 0, 0xffffffff) } : {}),
    ...(options.med !== undefined ? { med: integer('--med', options.med, 0, 0xffffffff) } : {}),
  };
  const port = integer('--port', options.port, 1, 65535);
  const holdTimeSec = integer('--hold-time', options.holdTime, 0, 65535);
  const restartTimeSec = integer('--restart-time', options.restartTime, 0, 4095) ?? 120;
  const listenPort = integer('--listen', options.listen, 0, 65535);
  const peer: SpeakerPeerConfig = {
    peerAddress: options.peer,
    peerAsn,
    ...(port !== undefined ? { port } : {}),
    ...(options.source !== undefined ? { sourceAddress: options.source } : {}),
    ...(options.passive === true ? { passive: true } : {}),
    ...(holdTimeSec !== undefined ? { holdTimeSec } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
    ...(options.nextHop4 !== undefined ? { nextHop4: options.nextHop4 } : {}),
    ...(options.nextHop6 !== undefined ? { nextHop6: options.nextHop6 } : {}),
    ...(options.gracefulRestart === true ? { gracefulRestart: { restartTimeSec, restarted: options.restarted === true } } : {}),
  };
  return { routerId, localAsn, ...(listenPort !== undefined ? { listenPort } : options.passive === true ? { listenPort: port ?? 179 } : {}), peer, attributes, prefixes };
}

/**
 * Prefixes of a --prefix-file (one per line, `#` comments), walked without splitting the text
 * into an array of lines: 100k-line files stay cheap. Throws naming the file and line.
 */
export function parsePrefixFile(text: string, fileName: string): Prefix[] {
  const prefixes: Prefix[] = [];
  let line = 0;
  for (let start = 0; start < text.length; ) {
    const newline = text.indexOf('\n', start);
    const end = newline === -1 ? text.length : newline;
    line++;
    const entry = text.slice(start, end).trim();
    if (entry !== '' && !entry.startsWith('#')) prefixes.push(wrap(`--prefix-file ${fileName} line ${line}`, () => parsePrefix(entry)));
    start = end + 1;
  }
  return prefixes;
}

function wrap<T>(field: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new Error(`${field}: ${(error as Error).message}`, { cause: error });
  }
}

export type ControlCommand =
  | { readonly type: 'announce' | 'withdraw'; readonly prefixes: Prefix[] }
  | { readonly type: 'status' }
  | { readonly type: 'shutdown'; readonly communication?: string }
  | { readonly type: 'restart' };

/** Parses one stdin command line; throws naming the command and the bad word. */
export function parseControlLine(line: string): ControlCommand | undefined {
  const words = line.trim().split(/\s+/).filter((w) => w !== '');
  const [verb, ...rest] = words;
  if (verb === undefined) return undefined;
  switch (verb) {
    case 'announce':
    case 'withdraw':
      return { type: verb, prefixes: rest.map((p) => wrap(verb, () => parsePrefix(p))) };
    case 'status':
    case 'restart':
      return { type: verb };
    case 'shutdown': {
      const text = line.trim().slice('shutdown'.length).trim();
      return text === '' ? { type: 'shutdown' } : { type: 'shutdown', communication: text };
    }
    default:
      throw new Error(`unknown command "${verb}" (announce, withdraw, status, shutdown, restart)`);
  }
}

/** Routes made one at a time as the Adj-RIB-Out takes them: no second array of 100k objects. */
function* routesOf(prefixes: readonly Prefix[], toRoute: (prefix: Prefix) => Route): Generator<Route> {
  for (const prefix of prefixes) yield toRoute(prefix);
}

/** One JSON event line on stdout, timestamped. */
export function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...event, time: Date.now() })}\n`);
}

async function runAnnounce(options: AnnounceCliOptions): Promise<void> {
  const filePrefixes = options.prefixFile === undefined ? [] : parsePrefixFile(await readFile(options.prefixFile, 'utf8'), options.prefixFile);
  // Only what the handlers below need stays referenced (not the parsed prefix list).
  const { routerId, localAsn, listenPort, peer, attributes, prefixes } = parseAnnounceOptions(options, filePrefixes);
  const speaker = new BgpSpeaker({
    routerId,
    localAsn,
    ...(listenPort !== undefined ? { listen: { port: listenPort, ...(peer.sourceAddress ? { address: peer.sourceAddress } : {}) } } : {}),
    log: createLogger('bgp-announce', process.env.ANCHORLB_LOG_LEVEL ?? 'warn'),
  });
  const toRoute = (prefix: Prefix): Route => ({ prefix, attributes });
  speaker.on('peerState', (address: string, state: string, previous: string) => emit({ event: 'state', peer: address, state, previous }));
  speaker.on('established', (address: string) => emit({ event: 'established', peer: address }));
  speaker.on('down', (address: string, reason: string) => emit({ event: 'down', peer: address, reason }));
  speaker.on('failure', (address: string, reason: string) => emit({ event: 'failure', peer: address, reason }));
  await speaker.start();
  // The session's Adj-RIB-Out is the only copy of the table (memory: 100k routes).
  await speaker.addPeer(peer, routesOf(prefixes.splice(0), toRoute));

  let stopping = false;
  const stop = async (graceful: boolean, communication?: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await speaker.stop({ graceful, ...(communication !== undefined ? { communication } : {}) });
    emit({ event: 'stopped', graceful });
    process.exit(0);
  };
  const onSignal = (): void => void stop(peer.gracefulRestart !== undefined);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    try {
      const command = parseControlLine(line);
      if (!command) return;
      switch (command.type) {
        case 'announce':
          speaker.updateRoutes(command.prefixes.map(toRoute), []);
          return;
        case 'withdraw':
          speaker.updateRoutes([], command.prefixes);
          return;
        case 'status':
          emit({ event: 'status', peers: speaker.status(), rssBytes: process.memoryUsage().rss });
          return;
        case 'shutdown':
          void stop(false, command.communication);
          return;
        case 'restart':
          void stop(true);
          return;
      }
    } catch (error) {
      emit({ event: 'commandError', line, error: (error as Error).message });
    }
  });
}

export function registerBgpAnnounceCommand(program: Command): void {
  const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
  program
    .command('bgp-announce')
    .description('Announce prefixes to one BGP peer (debugging entry point of the BGP library); JSON events on stdout, commands on stdin')
    .requiredOption('--peer <address>', 'peer address')
    .requiredOption('--peer-as <asn>', 'peer AS number')
    .requiredOption('--local-as <asn>', 'our AS number')
    .option('--router-id <address>', 'our BGP Identifier (default: --source when IPv4)')
    .option('--source <address>', 'local address to connect from')
    .option('--port <port>', 'peer TCP port (default 179)')
    .option('--passive', 'wait for the peer to connect (listens on --listen, default 179)')
    .option('--listen <port>', 'accept connections from the peer on this port')
    .option('--hold-time <seconds>', 'proposed hold time: 0 or 3..65535 (default 90)')
    .option('--password <secret>', 'TCP-MD5 password (needs the native addon)')
    .option('--prefix <prefix>', 'prefix to announce (repeatable)', collect)
    .option('--prefix-file <file>', 'file with one prefix per line')
    .option('--community <community>', 'community ASN:value or well-known name (repeatable)', collect)
    .option('--large-community <community>', 'large community G:L1:L2 (repeatable)', collect)
    .option('--local-pref <n>', 'LOCAL_PREF (iBGP only; default 100)')
    .option('--med <n>', 'MULTI_EXIT_DISC')
    .option('--next-hop4 <address>', 'IPv4 next hop (default: the session address)')
    .option('--next-hop6 <address>', 'IPv6 next hop (default: a global address on the session interface)')
    .option('--graceful-restart', 'offer graceful restart; SIGTERM then closes without a Cease')
    .option('--restart-time <seconds>', 'graceful restart time offered (default 120)')
    .option('--restarted', 'set the R bit: this speaker has just restarted')
    .action(async (options: AnnounceCliOptions) => {
      try {
        await runAnnounce(options);
      } catch (error) {
        process.stderr.write(`error: ${(error as Error).message}\n`);
        process.exit(2);
      }
    });
}
