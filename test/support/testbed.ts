/**
 * Real routers in network namespaces, for e2e tests and benchmarks (needs root).
 *
 * A topology is one bridge in its own namespace (`PREFIX-sw`) and leaf namespaces
 * (`PREFIX-router` at .1, optional `PREFIX-client` at .2, `PREFIX-node1..N` at .11…), each
 * with one veth `PREFIX-eth0` on that bridge, addressed from 192.0.2.0/24 and 2001:db8::/64.
 * FRR (zebra + bgpd), BIRD 2 and gobgpd run in the foreground as children of this process,
 * so every PID is known; `destroy()` kills exactly those (and anything else still inside our
 * namespaces, which only we can have started), deletes the namespaces and the state directory.
 * Shapes follow the scripts in ../shared/testbed (pitfalls recorded in their README).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export class ExecError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: ExecResult,
  ) {
    super(`command failed (exit ${result.code}): ${argv.join(' ')}\n${result.stderr.trim() || result.stdout.trim()}`);
  }
}

/** Runs argv; rejects with the output when it exits non-zero (unless `allowFailure`). */
export function run(argv: readonly string[], options: { allowFailure?: boolean; timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('run: empty command');
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: options.timeoutMs ?? 30_000, maxBuffer: 512 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      const result = { stdout, stderr, code };
      if (code !== 0 && options.allowFailure !== true) reject(new ExecError(argv, result));
      else resolve(result);
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Polls `probe` until it returns something other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (true) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface Host {
  ns: string;
  ipv4: string;
  ipv6: string;
}

export interface TestbedOptions {
  /** Number of node namespaces (1..89; 0 with a control plane only). */
  nodes: number;
  /** Also create PREFIX-client (.2). */
  client?: boolean;
  /** Also create PREFIX-cp (.3), for a control plane the nodes reach on the bridge. */
  controlPlane?: boolean;
  /** ≤ 10 characters `[a-z][a-z0-9]*`; default: random, so parallel runs never collide. */
  prefix?: string;
  /** Default /run/anchorlb-testbed. */
  stateRoot?: string;
}

export interface RouterNeighbor {
  address: string;
  asn: number;
  /** Address families activated on this session (default: the neighbor address's own family). */
  families?: Array<'ipv4' | 'ipv6'>;
  password?: string;
  /** Only accept connections from this neighbor (FRR `passive`, BIRD `passive on`). */
  passive?: boolean;
  /** BFD for this session (FRR `neighbor X bfd [profile P]`, BIRD `bfd on`). */
  bfd?: { profile?: string; checkControlPlaneFailure?: boolean };
  /** FRR `ebgp-multihop` (its BFD session is then multihop, UDP 4784). */
  ebgpMultihop?: boolean;
}

/** A BFD peer or profile in the router's bfdd (FRR) / `protocol bfd` (BIRD) configuration. */
export interface BfdTimersConfig {
  receiveMs?: number;
  transmitMs?: number;
  multiplier?: number;
  passive?: boolean;
}

export interface BfdPeerConfig extends BfdTimersConfig {
  address: string;
  localAddress: string;
  multihop?: boolean;
  /** Multihop only. */
  minimumTtl?: number;
}

export interface RouterConfig {
  asn: number;
  routerId?: string;
  neighbors: RouterNeighbor[];
  /** Graceful restart time offered to peers, seconds (default 120). */
  gracefulRestartTime?: number;
  keepalive?: number;
  hold?: number;
  /** FRR: run bfdd with these peers and profiles; BIRD: a `protocol bfd` with these peers. */
  bfd?: { peers?: BfdPeerConfig[]; profiles?: Array<BfdTimersConfig & { name: string }> };
}

const UNIQUE_PREFIX = /^[a-z][a-z0-9]{0,9}$/;

/** Testbeds not destroyed yet: torn down synchronously if the process exits first (e.g. Ctrl-C in mocha). */
const live = new Set<Testbed>();
process.once('exit', () => {
  for (const testbed of live) testbed.destroySync();
});

function familyOf(address: string): 'ipv4' | 'ipv6' {
  return address.includes(':') ? 'ipv6' : 'ipv4';
}

export class Testbed {
  readonly stateDir: string;
  readonly router: Host;
  readonly client: Host | undefined;
  readonly controlPlane: Host | undefined;
  readonly nodes: Host[];
  private readonly children = new Set<ChildProcess>();
  private readonly namespaces: string[];
  private destroyed = false;

  private constructor(
    readonly prefix: string,
    options: TestbedOptions,
  ) {
    this.stateDir = join(options.stateRoot ?? '/run/anchorlb-testbed', prefix);
    this.router = { ns: `${prefix}-router`, ipv4: '192.0.2.1', ipv6: '2001:db8::1' };
    this.client = options.client === true ? { ns: `${prefix}-client`, ipv4: '192.0.2.2', ipv6: '2001:db8::2' } : undefined;
    this.controlPlane = options.controlPlane === true ? { ns: `${prefix}-cp`, ipv4: '192.0.2.3', ipv6: '2001:db8::3' } : undefined;
    this.nodes = Array.from({ length: options.nodes }, (_, i) => ({
      ns: `${prefix}-node${i + 1}`,
      ipv4: `192.0.2.${11 + i}`,
      ipv6: `2001:db8::${11 + i}`,
    }));
    this.namespaces = [`${prefix}-sw`, this.router.ns, ...[this.client, this.controlPlane].flatMap((host) => (host ? [host.ns] : [])), ...this.nodes.map((n) => n.ns)];
  }

  /** Builds the topology; on any failure tears down what was built and rethrows. */
  static async create(options: TestbedOptions): Promise<Testbed> {
    const prefix = options.prefix ?? `t${randomBytes(4).toString('hex').slice(0, 6)}`;
    if (!UNIQUE_PREFIX.test(prefix)) throw new Error(`testbed prefix '${prefix}' must match ${UNIQUE_PREFIX} (interface names are limited to 15 characters)`);
    const fewest = options.controlPlane === true ? 0 : 1;
    if (!Number.isInteger(options.nodes) || options.nodes < fewest || options.nodes > 89) throw new Error(`testbed nodes must be ${fewest}..89, got ${options.nodes}`);
    if (process.getuid?.() !== 0) throw new Error('testbed needs root (network namespaces)');
    const testbed = new Testbed(prefix, options);
    live.add(testbed);
    try {
      await testbed.build();
    } catch (error) {
      await testbed.destroy();
      throw error;
    }
    return testbed;
  }

  private async build(): Promise<void> {
    await mkdir(this.stateDir, { recursive: true });
    const sw = `${this.prefix}-sw`;
    const bridge = `${this.prefix}-br`;
    await this.addNamespace(sw);
    await run(['ip', '-n', sw, 'link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0']);
    await run(['ip', '-n', sw, 'link', 'set', bridge, 'up']);
    const leaves: Array<[Host, string]> = [
      [this.router, 'r'],
      ...(this.client ? [[this.client, 'c'] as [Host, string]] : []),
      ...(this.controlPlane ? [[this.controlPlane, 'cp'] as [Host, string]] : []),
      ...this.nodes.map((n, i): [Host, string] => [n, `n${i + 1}`]),
    ];
    for (const [host, port] of leaves) {
      const iface = this.iface;
      const portName = `${this.prefix}-${port}`;
      await this.addNamespace(host.ns);
      await run(['ip', '-n', sw, 'link', 'add', portName, 'type', 'veth', 'peer', 'name', iface, 'netns', host.ns]);
      await run(['ip', '-n', sw, 'link', 'set', portName, 'master', bridge, 'up']);
      await run(['ip', '-n', host.ns, 'link', 'set', iface, 'up']);
      await run(['ip', '-n', host.ns, 'addr', 'add', `${host.ipv4}/24`, 'dev', iface]);
      await run(['ip', '-n', host.ns, 'addr', 'add', `${host.ipv6}/64`, 'dev', iface, 'nodad']);
    }
    await run(['ip', 'netns', 'exec', this.router.ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.fib_multipath_hash_policy=1']);
  }

  /** The one interface inside every leaf namespace. */
  get iface(): string {
    return `${this.prefix}-eth0`;
  }

  private async addNamespace(ns: string): Promise<void> {
    await run(['ip', 'netns', 'add', ns]);
    await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    // No DAD and no RAs: addresses are usable the moment they are added.
    await run(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_ra=0', 'net.ipv6.conf.default.accept_ra=0'], { allowFailure: true });
  }

  /** Runs argv inside namespace `ns`. */
  exec(ns: string, argv: readonly string[], options: { allowFailure?: boolean; timeoutMs?: number } = {}): Promise<ExecResult> {
    return run(['ip', 'netns', 'exec', ns, ...argv], options);
  }

  /**
   * Starts a long-running process inside `ns` (stdout/stderr to `logFile` unless `pipe`).
   * It is killed by `destroy()`; `ip netns exec` (and nsenter) exec, so the child's PID is the program's.
   */
  async spawn(ns: string, argv: readonly string[], options: { logFile?: string; pipe?: boolean; env?: NodeJS.ProcessEnv; mountNamespace?: string } = {}): Promise<ChildProcess> {
    let stdio: 'pipe' | ['ignore', number, number] = 'pipe';
    let closeLog: (() => Promise<void>) | undefined;
    if (options.pipe !== true) {
      const log = await open(options.logFile ?? join(this.stateDir, `${argv[0]?.split('/').pop() ?? 'proc'}-${Date.now()}.log`), 'a');
      stdio = ['ignore', log.fd, log.fd];
      closeLog = () => log.close();
    }
    // `mountNamespace` (a bound nsfs file): that mount namespace instead of the fresh one `ip netns exec` makes.
    const [command, ...prefix] = options.mountNamespace === undefined ? ['ip', 'netns', 'exec', ns] : ['nsenter', `--net=/run/netns/${ns}`, `--mount=${options.mountNamespace}`, '--'];
    const child = spawn(command as string, [...prefix, ...argv], { stdio, env: options.env ?? process.env });
    await closeLog?.();
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** SIGKILLs a child we started and waits for it to be gone. */
  async kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await gone;
  }

  /** FRR bgpd, with zebra (kernel FIB) unless `zebra: false` (bgpd -Z: routes stay in the BGP RIB). */
  async startFrr(ns: string, config: RouterConfig & { zebra?: boolean }): Promise<FrrRouter> {
    const dir = join(this.stateDir, `frr-${ns}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'bgpd.conf'), frrConfig(ns, config, dir));
    await writeFile(join(dir, 'zebra.conf'), `hostname ${ns}\nlog file ${dir}/zebra.log\n`);
    await run(['chown', '-R', 'frr:frr', dir]);
    const common = ['-z', join(dir, 'zserv.api'), '--vty_socket', dir, '-P', '0', '-u', 'frr', '-g', 'frr'];
    let zebra: ChildProcess | undefined;
    if (config.zebra !== false) {
      zebra = await this.spawn(ns, ['/usr/lib/frr/zebra', ...common, '-f', join(dir, 'zebra.conf'), '-i', join(dir, 'zebra.pid')], { logFile: join(dir, 'zebra.out') });
      await waitFor('zebra socket', async () => (await run(['test', '-S', join(dir, 'zserv.api')], { allowFailure: true })).code === 0, 20_000, 20);
    }
    let bfdd: ChildProcess | undefined;
    if (config.bfd !== undefined) {
      await writeFile(join(dir, 'bfdd.conf'), frrBfdConfig(ns, config.bfd, dir));
      await run(['chown', 'frr:frr', join(dir, 'bfdd.conf')]);
      bfdd = await this.spawn(ns, ['/usr/lib/frr/bfdd', ...common, '--bfdctl', join(dir, 'bfdd.sock'), '-f', join(dir, 'bfdd.conf'), '-i', join(dir, 'bfdd.pid')], { logFile: join(dir, 'bfdd.out') });
    }
    const bgpd = await this.spawn(ns, ['/usr/lib/frr/bgpd', ...common, ...(zebra ? [] : ['-Z']), '-f', join(dir, 'bgpd.conf'), '-i', join(dir, 'bgpd.pid')], { logFile: join(dir, 'bgpd.out') });
    const router = new FrrRouter(this, ns, dir, zebra, bgpd, bfdd);
    await waitFor('bgpd to answer on vtysh', () => router.json('show bgp summary json'), 20_000, 50);
    if (bfdd) await waitFor('bfdd to answer on vtysh', () => router.json('show bfd peers json'), 20_000, 50);
    return router;
  }

  /**
   * BIRD 2; `staticRoutes` (blackhole) are exported to every neighbor with this host's address
   * as next hop (`nextHop6`: the IPv6 next hop for IPv6 routes on an IPv4 session).
   */
  async startBird(ns: string, config: BirdConfig): Promise<BirdRouter> {
    const dir = join(this.stateDir, `bird-${ns}`);
    await mkdir(dir, { recursive: true });
    const confPath = join(dir, 'bird.conf');
    await writeFile(confPath, birdConfig(config, dir));
    const ctl = join(dir, 'bird.ctl');
    const bird = await this.spawn(ns, ['bird', '-f', '-c', confPath, '-s', ctl, '-P', join(dir, 'bird.pid')], { logFile: join(dir, 'bird.out') });
    const router = new BirdRouter(ctl, bird);
    await waitFor('bird control socket', async () => (await router.birdc('show status')).includes('Daemon is up'), 20_000, 20);
    return router;
  }

  async startGobgp(ns: string, config: RouterConfig & { listen?: boolean }): Promise<GobgpRouter> {
    const dir = join(this.stateDir, `gobgp-${ns}`);
    await mkdir(dir, { recursive: true });
    const confPath = join(dir, 'gobgpd.toml');
    await writeFile(confPath, gobgpConfig(config));
    const gobgpd = await this.spawn(ns, ['gobgpd', '-f', confPath, '-p', '--api-hosts', '127.0.0.1:50051', '--pprof-disable'], { logFile: join(dir, 'gobgpd.out') });
    const router = new GobgpRouter(this, ns, gobgpd);
    await waitFor('gobgpd API', async () => (await router.gobgp(['global'], true)).code === 0, 20_000, 50);
    return router;
  }

  /** Last resort on process exit: kill our children and delete our namespaces, synchronously. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const child of this.children) child.kill('SIGKILL');
    for (const ns of this.namespaces) {
      for (const pid of spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter((p) => /^\d+$/.test(p))) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      spawnSync('ip', ['netns', 'del', ns]);
    }
    spawnSync('rm', ['-rf', '--', this.stateDir]);
  }

  /** Kills what we started, deletes our namespaces and state. Safe to call twice. */
  async destroy(): Promise<void> {
    live.delete(this);
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all([...this.children].map((child) => this.kill(child)));
    const existing = new Set((await run(['ip', 'netns', 'list'])).stdout.split('\n').map((line) => line.split(' ')[0]));
    for (const ns of this.namespaces.filter((name) => existing.has(name))) {
      // Anything still running in a namespace of ours was started by us (e.g. a daemonized helper).
      const pids = (await run(['ip', 'netns', 'pids', ns], { allowFailure: true })).stdout.split('\n').filter((pid) => /^\d+$/.test(pid));
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await run(['ip', 'netns', 'del', ns], { allowFailure: true });
    }
    await rm(this.stateDir, { recursive: true, force: true });
  }
}

function frrConfig(ns: string, config: RouterConfig, dir: string): string {
  const lines = [
    'frr defaults traditional',
    `hostname ${ns}`,
    `log file ${dir}/bgpd.log`,
    `router bgp ${config.asn}`,
    ...(config.routerId ? [` bgp router-id ${config.routerId}`] : []),
    ' no bgp ebgp-requires-policy',
    ' no bgp network import-check',
    ' no bgp default ipv4-unicast',
    ' bgp bestpath as-path multipath-relax',
    ' bgp graceful-restart',
    ` bgp graceful-restart restart-time ${config.gracefulRestartTime ?? 120}`,
    ` bgp graceful-restart stalepath-time ${config.gracefulRestartTime ?? 120}`,
    ` timers bgp ${config.keepalive ?? 3} ${config.hold ?? 9}`,
  ];
  for (const n of config.neighbors) {
    lines.push(` neighbor ${n.address} remote-as ${n.asn}`, ` neighbor ${n.address} timers connect 1`, ` neighbor ${n.address} advertisement-interval 0`);
    if (n.password !== undefined) lines.push(` neighbor ${n.address} password ${n.password}`);
    if (n.passive === true) lines.push(` neighbor ${n.address} passive`);
    if (n.ebgpMultihop === true) lines.push(` neighbor ${n.address} ebgp-multihop 255`);
    if (n.bfd !== undefined) {
      lines.push(` neighbor ${n.address} bfd`);
      if (n.bfd.profile !== undefined) lines.push(` neighbor ${n.address} bfd profile ${n.bfd.profile}`);
      if (n.bfd.checkControlPlaneFailure === true) lines.push(` neighbor ${n.address} bfd check-control-plane-failure`);
    }
  }
  for (const family of ['ipv4', 'ipv6'] as const) {
    lines.push(` address-family ${family} unicast`, '  maximum-paths 16', '  maximum-paths ibgp 16');
    for (const n of config.neighbors) {
      if ((n.families ?? [familyOf(n.address)]).includes(family)) lines.push(`  neighbor ${n.address} activate`);
    }
    lines.push(' exit-address-family');
  }
  return `${lines.join('\n')}\n`;
}

function frrBfdTimers(t: BfdTimersConfig, indent: string): string[] {
  return [
    ...(t.receiveMs !== undefined ? [`${indent}receive-interval ${t.receiveMs}`] : []),
    ...(t.transmitMs !== undefined ? [`${indent}transmit-interval ${t.transmitMs}`] : []),
    ...(t.multiplier !== undefined ? [`${indent}detect-multiplier ${t.multiplier}`] : []),
    ...(t.passive === true ? [`${indent}passive-mode`] : []),
  ];
}

function frrBfdConfig(ns: string, bfd: NonNullable<RouterConfig['bfd']>, dir: string): string {
  const lines = ['frr defaults traditional', `hostname ${ns}`, `log file ${dir}/bfdd.log`, 'bfd'];
  for (const profile of bfd.profiles ?? []) lines.push(` profile ${profile.name}`, ...frrBfdTimers(profile, '  '), ' exit');
  for (const peer of bfd.peers ?? []) {
    lines.push(` peer ${peer.address}${peer.multihop === true ? ' multihop' : ''} local-address ${peer.localAddress}`, ...frrBfdTimers(peer, '  '));
    if (peer.minimumTtl !== undefined) lines.push(`  minimum-ttl ${peer.minimumTtl}`);
    lines.push(' exit');
  }
  return `${lines.join('\n')}\n`;
}

export interface BirdConfig extends RouterConfig {
  staticRoutes?: string[];
  kernelExport?: boolean;
  nextHop6?: string;
}

function birdConfig(config: BirdConfig, dir: string): string {
  const statics = config.staticRoutes ?? [];
  const lines = [
    `log "${dir}/bird.log" { warning, error, fatal };`,
    ...(config.routerId ? [`router id ${config.routerId};`] : []),
    'protocol device { scan time 10; }',
  ];
  if (config.kernelExport === true) {
    lines.push('protocol kernel kernel4 { ipv4 { import none; export where source = RTS_BGP; }; merge paths on; }');
    lines.push('protocol kernel kernel6 { ipv6 { import none; export where source = RTS_BGP; }; merge paths on; }');
  }
  const static4 = statics.filter((p) => !p.includes(':'));
  const static6 = statics.filter((p) => p.includes(':'));
  if (static4.length > 0) lines.push(`protocol static static4 { ipv4; ${static4.map((p) => `route ${p} blackhole;`).join(' ')} }`);
  if (static6.length > 0) lines.push(`protocol static static6 { ipv6; ${static6.map((p) => `route ${p} blackhole;`).join(' ')} }`);
  if (config.bfd !== undefined) {
    const t: BfdTimersConfig = config.bfd.profiles?.[0] ?? {};
    const options = [
      ...(t.receiveMs !== undefined ? [`min rx interval ${t.receiveMs} ms;`] : []),
      ...(t.transmitMs !== undefined ? [`min tx interval ${t.transmitMs} ms;`] : []),
      ...(t.multiplier !== undefined ? [`multiplier ${t.multiplier};`] : []),
      ...(t.passive === true ? ['passive on;'] : []),
    ].join(' ');
    lines.push('protocol bfd {', `  interface "*" { ${options} };`, `  multihop { ${options} };`);
    for (const peer of config.bfd.peers ?? []) lines.push(`  neighbor ${peer.address} local ${peer.localAddress}${peer.multihop === true ? ' multihop on' : ''};`);
    lines.push('}');
  }
  config.neighbors.forEach((n, i) => {
    const families = n.families ?? [familyOf(n.address)];
    lines.push(
      `protocol bgp peer${i + 1} {`,
      `  local as ${config.asn};`,
      `  neighbor ${n.address} as ${n.asn};`,
      `  graceful restart on; graceful restart time ${config.gracefulRestartTime ?? 120};`,
      `  hold time ${config.hold ?? 9}; keepalive time ${config.keepalive ?? 3}; connect retry time 1;`,
      ...(n.password !== undefined ? [`  password "${n.password}";`] : []),
      ...(n.passive === true ? ['  passive on;'] : []),
      ...(n.bfd !== undefined ? ['  bfd on;'] : []),
      // On a direct session BIRD adds a link-local IPv6 next hop, which FRR (peer known by IPv4
      // address, no interface) rejects: multihop sends the global next hop alone.
      ...(config.nextHop6 !== undefined && familyOf(n.address) === 'ipv4' && families.includes('ipv6') ? ['  multihop 1;'] : []),
      // A static route's next hop is rewritten to our own address on export.
      ...families.map((f) => `  ${f} { import all; export all; ${f === 'ipv6' && config.nextHop6 !== undefined ? `next hop address ${config.nextHop6}` : 'next hop self'}; };`),
      '}',
    );
  });
  return `${lines.join('\n')}\n`;
}

function gobgpConfig(config: RouterConfig & { listen?: boolean }): string {
  const lines = ['[global.config]', `  as = ${config.asn}`, `  router-id = "${config.routerId ?? '192.0.2.1'}"`];
  if (config.listen === false) lines.push('  port = -1');
  lines.push('[global.use-multiple-paths.config]', '  enabled = true');
  for (const n of config.neighbors) {
    lines.push(
      '[[neighbors]]',
      '  [neighbors.config]',
      `    neighbor-address = "${n.address}"`,
      `    peer-as = ${n.asn}`,
      ...(n.password !== undefined ? [`    auth-password = "${n.password}"`] : []),
      '  [neighbors.timers.config]',
      '    connect-retry = 1',
      `    hold-time = ${config.hold ?? 9}`,
      `    keepalive-interval = ${config.keepalive ?? 3}`,
      ...(n.passive === true ? ['  [neighbors.transport.config]', '    passive-mode = true'] : []),
      '  [neighbors.graceful-restart.config]',
      '    enabled = true',
      `    restart-time = ${config.gracefulRestartTime ?? 120}`,
    );
    for (const f of n.families ?? [familyOf(n.address)]) {
      lines.push('  [[neighbors.afi-safis]]', '    [neighbors.afi-safis.config]', `      afi-safi-name = "${f}-unicast"`, '    [neighbors.afi-safis.mp-graceful-restart.config]', '      enabled = true');
    }
  }
  return `${lines.join('\n')}\n`;
}

/** One path of FRR's `show bgp <afi> unicast json` (the fields tests look at). */
export interface FrrPath {
  valid?: boolean;
  multipath?: boolean;
  stale?: boolean;
  bestpath?: boolean;
  nexthops?: Array<{ ip: string; afi: string; scope?: string }>;
  peerId?: string;
  path?: string;
  origin?: string;
  med?: number;
  metric?: number;
  localpref?: number;
  locPrf?: number;
  community?: { string: string; list?: string[] };
  largeCommunity?: { string: string; list?: string[] };
  aspath?: { string: string; length?: number };
}

/** One session of FRR's `show bfd peers json` (the fields tests look at). */
export interface FrrBfdPeer {
  peer: string;
  local?: string;
  multihop: boolean;
  status: 'up' | 'down' | 'init' | 'shutdown';
  diagnostic?: string;
  'remote-diagnostic'?: string;
  id?: number;
  'remote-id'?: number;
  'passive-mode'?: boolean;
  'receive-interval'?: number;
  'transmit-interval'?: number;
  'detect-multiplier'?: number;
  'remote-receive-interval'?: number;
  'remote-transmit-interval'?: number;
  'remote-detect-multiplier'?: number;
  counters?: FrrBfdCounters;
}

export interface FrrBfdCounters {
  'control-packet-input': number;
  'control-packet-output': number;
  'session-up': number;
  'session-down': number;
}

export interface FrrPeerSummary {
  state: string;
  pfxRcd?: number;
  pfxSnt?: number;
}

export class FrrRouter {
  constructor(
    private readonly testbed: Testbed,
    readonly ns: string,
    readonly dir: string,
    readonly zebra: ChildProcess | undefined,
    readonly bgpd: ChildProcess,
    readonly bfdd?: ChildProcess,
  ) {}

  /** bfdd's sessions (`show bfd peers json`), with their counters (`show bfd peers counters json`). */
  async bfdPeers(): Promise<FrrBfdPeer[]> {
    const peers = (await this.json('show bfd peers json')) as FrrBfdPeer[];
    const counters = (await this.json('show bfd peers counters json')) as Array<FrrBfdPeer & FrrBfdCounters>;
    return peers.map((p) => ({ ...p, counters: counters.find((c) => c.peer === p.peer && c.local === p.local && c.multihop === p.multihop) }));
  }

  /** The bfdd session with `peer` (and, when given, over multihop or not). */
  async bfdPeer(peer: string, multihop?: boolean): Promise<FrrBfdPeer | undefined> {
    return (await this.bfdPeers()).find((p) => p.peer === peer && (multihop === undefined || p.multihop === multihop));
  }

  async vtysh(command: string): Promise<string> {
    return (await run(['vtysh', '--vty_socket', this.dir, '-c', command])).stdout;
  }

  /** `vtysh -c COMMAND` parsed; COMMAND must end in `json`. */
  async json(command: string): Promise<unknown> {
    return JSON.parse(await this.vtysh(command)) as unknown;
  }

  /** Prefix → paths, from `show bgp ipv4|ipv6 unicast json` (the table's `routes`). */
  async rib(family: 'ipv4' | 'ipv6'): Promise<Map<string, FrrPath[]>> {
    const table = (await this.json(`show bgp ${family} unicast json`)) as { routes?: Record<string, FrrPath[]> };
    return new Map(Object.entries(table.routes ?? {}));
  }

  /** The paths of one prefix, with full detail (communities, local-pref…). */
  async paths(prefix: string): Promise<FrrPath[]> {
    const family = prefix.includes(':') ? 'ipv6' : 'ipv4';
    const detail = (await this.json(`show bgp ${family} unicast ${prefix} json`)) as { paths?: FrrPath[] };
    return detail.paths ?? [];
  }

  /** Session state and prefix counts per neighbor and family, from `show bgp summary json`. */
  async summary(): Promise<Record<string, { ipv4?: FrrPeerSummary; ipv6?: FrrPeerSummary }>> {
    const raw = (await this.json('show bgp summary json')) as Record<string, { peers?: Record<string, FrrPeerSummary> }>;
    const byPeer: Record<string, { ipv4?: FrrPeerSummary; ipv6?: FrrPeerSummary }> = {};
    for (const [family, key] of [['ipv4', 'ipv4Unicast'], ['ipv6', 'ipv6Unicast']] as const) {
      for (const [peer, info] of Object.entries(raw[key]?.peers ?? {})) (byPeer[peer] ??= {})[family] = info;
    }
    return byPeer;
  }

  /** `show bgp neighbors ADDR json` for one neighbor. */
  async neighbor(address: string): Promise<Record<string, unknown>> {
    const all = (await this.json(`show bgp neighbors ${address} json`)) as Record<string, Record<string, unknown>>;
    return all[address] ?? {};
  }

  /** Number of next hops of a kernel route in the router's namespace (0 when absent). */
  async fibNexthops(prefix: string): Promise<number> {
    const routes = JSON.parse((await this.testbed.exec(this.ns, ['ip', prefix.includes(':') ? '-6' : '-4', '-j', 'route', 'show', prefix])).stdout || '[]') as Array<{ nexthops?: unknown[] }>;
    const route = routes[0];
    return route === undefined ? 0 : (route.nexthops?.length ?? 1);
  }

  async stop(): Promise<void> {
    if (this.bfdd) await this.testbed.kill(this.bfdd, 'SIGTERM');
    await this.testbed.kill(this.bgpd, 'SIGTERM');
    if (this.zebra) await this.testbed.kill(this.zebra, 'SIGTERM');
  }
}

export class BirdRouter {
  constructor(
    readonly ctl: string,
    readonly bird: ChildProcess,
  ) {}

  /**
   * birdc talks to the control socket, so no namespace switch is needed. Its output even on
   * "Network not found" (exit 1); but when BIRD does not answer (dead, socket gone) it throws,
   * so "a route is absent from the output" can never pass against a BIRD that is not there.
   */
  async birdc(command: string): Promise<string> {
    const result = await run(['birdc', '-s', this.ctl, command], { allowFailure: true });
    if (!/^BIRD [\w.-]+ ready\.$/m.test(result.stdout)) throw new Error(`birdc ${command}: BIRD did not answer (exit ${result.code}): ${(result.stderr || result.stdout).trim()}`);
    return result.stdout;
  }

  /** Routes in a BIRD table, by prefix, with the `via` next hops (BIRD has no JSON output). */
  async routes(family: 'ipv4' | 'ipv6'): Promise<Map<string, string[]>> {
    const out = await this.birdc(`show route table master${family === 'ipv4' ? 4 : 6}`);
    const routes = new Map<string, string[]>();
    let current: string | undefined;
    for (const line of out.split('\n')) {
      const head = /^(\S+\/\d+)\s/.exec(line);
      if (head?.[1] !== undefined) current = head[1];
      const via = /\svia (\S+)/.exec(line);
      if (current !== undefined && (head || /^\s+/.test(line)) && /\[/.test(line)) {
        const hops = routes.get(current) ?? [];
        if (via?.[1] !== undefined) hops.push(via[1]);
        routes.set(current, hops);
      }
    }
    return routes;
  }

  /** `show bfd sessions`: state by neighbor address (Up, Down, Init, AdminDown). */
  async bfdSessions(): Promise<Map<string, string>> {
    const sessions = new Map<string, string>();
    for (const line of (await this.birdc('show bfd sessions')).split('\n')) {
      const match = /^(\S*[.:]\S*)\s+\S+\s+(Up|Down|Init|AdminDown)\s/.exec(line);
      if (match?.[1] !== undefined && match[2] !== undefined) sessions.set(match[1], match[2]);
    }
    return sessions;
  }

  /** `show route count` → number of routes. */
  async routeCount(): Promise<number> {
    const match = /(\d+) of \d+ routes/.exec(await this.birdc('show route count'));
    return match?.[1] === undefined ? 0 : Number(match[1]);
  }
}

export class GobgpRouter {
  constructor(
    private readonly testbed: Testbed,
    readonly ns: string,
    readonly gobgpd: ChildProcess,
  ) {}

  gobgp(args: readonly string[], allowFailure = false): Promise<ExecResult> {
    return this.testbed.exec(this.ns, ['gobgp', '-u', '127.0.0.1', '-p', '50051', ...args], { allowFailure, timeoutMs: 120_000 });
  }

  /** Prefix → paths, from `gobgp -j global rib -a ipv4|ipv6`. */
  async rib(family: 'ipv4' | 'ipv6'): Promise<Map<string, Array<{ nexthop?: string; attrs?: Array<Record<string, unknown>>; stale?: boolean }>>> {
    const out = (await this.gobgp(['-j', 'global', 'rib', '-a', family])).stdout.trim();
    return new Map(Object.entries(out === '' ? {} : (JSON.parse(out) as Record<string, Array<{ nexthop?: string }>>)));
  }

  /** Neighbor state by address, from `gobgp -j neighbor`. */
  async neighbors(): Promise<Map<string, string>> {
    const list = JSON.parse((await this.gobgp(['-j', 'neighbor'])).stdout || '[]') as Array<{ conf?: { neighbor_address?: string }; state?: { session_state?: number | string } }>;
    return new Map(list.map((n) => [n.conf?.neighbor_address ?? '', String(n.state?.session_state ?? '')]));
  }
}
