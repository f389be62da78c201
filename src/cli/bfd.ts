/**
 * `anchorlb bfd`: one BFD session (src/bfd, in its worker thread), for debugging and for tests.
 *
 * Prints one JSON line per event on stdout: {"event":"state", from, ...status} on every state
 * change, {"event":"status", sessions} on request. Commands on stdin, one per line:
 * `timers TX RX MULT` (ms, ms, multiplier: a profile change, applied by Poll sequence),
 * `status`, `block MS` (keeps the main thread busy for MS ms: BFD must not notice),
 * `stop` (AdminDown, Diag 7, then exit). SIGTERM/SIGINT: like `stop`.
 */
import net from 'node:net';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { sessionKey, type SessionSpec } from '../bfd/endpoint.ts';
import { BfdService } from '../bfd/service.ts';
import { emit, integer } from './bgp-announce.ts';

export interface BfdCliOptions {
  peer: string;
  source: string;
  multihop?: boolean;
  minimumTtl?: string;
  passive?: boolean;
  transmitInterval: string;
  receiveInterval: string;
  detectMultiplier: string;
  thread: string;
}

/** Command-line options → a session; throws naming the option and value. */
export function parseBfdOptions(options: BfdCliOptions): { spec: SessionSpec; thread: 'worker' | 'main' } {
  if (net.isIP(options.peer) === 0) throw new Error(`--peer: "${options.peer}" is not an IP address`);
  if (net.isIP(options.source) !== net.isIP(options.peer)) throw new Error(`--source: "${options.source}" is not an address of the same family as --peer ${options.peer}`);
  if (options.thread !== 'worker' && options.thread !== 'main') throw new Error(`--thread: "${options.thread}" is not worker or main`);
  if (options.minimumTtl !== undefined && options.multihop !== true) throw new Error('--minimum-ttl: only with --multihop');
  const minimumTtl = integer('--minimum-ttl', options.minimumTtl, 1, 254);
  const spec: SessionSpec = {
    peerAddress: options.peer,
    localAddress: options.source,
    multihop: options.multihop === true,
    ...(minimumTtl !== undefined ? { minimumTtl } : {}),
    passive: options.passive === true,
    timers: timersOf(options.transmitInterval, options.receiveInterval, options.detectMultiplier),
  };
  return { spec, thread: options.thread };
}

function timersOf(tx: string | undefined, rx: string | undefined, mult: string | undefined): SessionSpec['timers'] {
  // MetalLB's BFDProfile ranges.
  const ms = (field: string, text: string | undefined): number => (integer(field, text, 10, 60000) ?? 300) * 1000;
  return { desiredMinTxUs: ms('transmit interval', tx), requiredMinRxUs: ms('receive interval', rx), detectMult: integer('detect multiplier', mult, 2, 255) ?? 3 };
}

async function runBfd(options: BfdCliOptions): Promise<void> {
  const { spec, thread } = parseBfdOptions(options);
  const service = new BfdService({ thread });
  service.on('stateChange', ({ status, from, remoteAdminDown }) => emit({ event: 'state', from, remoteAdminDown, ...status }));
  service.on('warning', (message) => emit({ event: 'warning', message }));
  service.on('failed', (error) => {
    emit({ event: 'failed', error: error.message });
    process.exit(1);
  });
  await service.upsert(spec);
  emit({ event: 'started', key: sessionKey(spec), thread });

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await service.stop({ adminDown: true });
    emit({ event: 'stopped' });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());

  createInterface({ input: process.stdin }).on('line', (line) => {
    const [verb, ...args] = line.trim().split(/\s+/);
    const report = (error: unknown): void => emit({ event: 'commandError', line, error: (error as Error).message });
    try {
      switch (verb) {
        case '':
        case undefined:
          return;
        case 'timers':
          service.upsert({ ...spec, timers: timersOf(args[0], args[1], args[2]) }).then((status) => emit({ event: 'timers', ...status }), report);
          return;
        case 'status':
          service.list().then((sessions) => emit({ event: 'status', sessions }), report);
          return;
        case 'block': {
          const until = Date.now() + (integer('block', args[0], 0, 60000) ?? 0);
          while (Date.now() < until) {
            // busy: this is the point
          }
          emit({ event: 'unblocked' });
          return;
        }
        case 'stop':
          void stop();
          return;
        default:
          throw new Error(`unknown command "${verb}" (timers, status, block, stop)`);
      }
    } catch (error) {
      report(error);
    }
  });
}

export function registerBfdCommand(program: Command): void {
  program
    .command('bfd')
    .description('Run one BFD session (debugging entry point of the BFD library); JSON events on stdout, commands on stdin')
    .requiredOption('--peer <address>', 'peer address')
    .requiredOption('--source <address>', 'our address (the BGP session\'s)')
    .option('--multihop', 'RFC 5883 multihop (UDP 4784) instead of single hop (3784, TTL 255)')
    .option('--minimum-ttl <n>', 'multihop: lowest TTL accepted (default 254)')
    .option('--passive', 'send nothing until the peer has')
    .option('--transmit-interval <ms>', 'desired minimum transmit interval, 10..60000 (default 300)', '300')
    .option('--receive-interval <ms>', 'required minimum receive interval, 10..60000 (default 300)', '300')
    .option('--detect-multiplier <n>', '2..255 (default 3)', '3')
    .option('--thread <where>', 'worker (default) or main: where sessions and timers run', 'worker')
    .action(async (options: BfdCliOptions) => {
      try {
        await runBfd(options);
      } catch (error) {
        process.stderr.write(`error: ${(error as Error).message}\n`);
        process.exit(2);
      }
    });
}
