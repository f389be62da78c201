/**
 * `make demo`: anchorlb end to end on one machine (root, Debian).
 *
 * The project's API server (in this process, HTTPS) · three nodes, an FRR router and a client
 * in network namespaces on one bridge (test/support/testbed.ts) · CRDs, the AnchorLB and the
 * configuration applied with real kubectl · the operator as a process · the node agent
 * (src/localcluster/node-agent.ts) running the controller and speakers exactly as the operator
 * rendered them · a Service whose IP the client reaches by ARP and the router learns by BGP ·
 * the L2 owner node's failure (its speaker killed, its link cut) and the measured failover ·
 * teardown (also on failure and Ctrl-C).
 *
 * Exits non-zero when something it shows did not happen (see `expectShown`): the demo is also the
 * end-to-end test of `make demo` (test/e2e/demo), and a run that printed a failure must fail.
 *
 *   node --import tsx scripts/demo.ts [--keep] [--prefix NAME]
 *
 * --keep leaves everything running until Ctrl-C and prints how to explore it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { startLocalApiServer, type LocalApiServer } from '../src/localcluster/index.ts';
import { NodeAgent } from '../src/localcluster/node-agent.ts';
import { Pinger } from '../test/e2e/l2/cluster.ts';
import { Kubectl, REPO_ROOT, loadKubeConfig } from '../test/support/apiserver.ts';
import { Testbed, waitFor, type FrrRouter } from '../test/support/testbed.ts';

const NS = 'anchorlb-system';
const APP_NS = 'demo';
const POOL = '192.0.2.200-192.0.2.220';
const NODE_ASN = 64500;
const ROUTER_ASN = 64512;
const ANCHORLB = join(REPO_ROOT, 'bin/anchorlb.js');
/**
 * Kill to takeover, as the client sees it. The README claims < 1 s at the defaults (5 missed
 * heartbeats of 100 ms, then a gratuitous ARP); above this bound the figure is not that claim.
 */
const TAKEOVER_BOUND_MS = 3_000;
/** A failover in which the client lost less than this was not a failover (the old owner still answered). */
const MIN_REAL_OUTAGE_MS = 300;

const { values: flags } = parseArgs({ options: { keep: { type: 'boolean', default: false }, prefix: { type: 'string' } } });

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
function say(line: string): void {
  process.stdout.write(`[${elapsed()}] ${line}\n`);
}
function detail(text: string): void {
  for (const line of text.trimEnd().split('\n')) process.stdout.write(`          ${line}\n`);
}

/** What the demo showed going wrong; any makes it exit 1 after it ran to the end. */
const problems: string[] = [];
/** Says `line` and, when `ok` is false, records it as a problem (the demo will fail). */
function expectShown(ok: boolean, line: string): void {
  if (!ok) problems.push(line);
  say(ok ? line : `PROBLEM: ${line}`);
}

/** What teardown undoes, in reverse order of creation. */
const cleanups: Array<{ what: string; run: () => Promise<void> }> = [];
let tearingDown: Promise<void> | undefined;
function teardown(): Promise<void> {
  tearingDown ??= (async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      const slow = setTimeout(() => say(`teardown: still stopping the ${cleanup.what}`), 5000);
      try {
        await cleanup.run();
      } catch (error) {
        process.stderr.write(`teardown: ${cleanup.what}: ${error instanceof Error ? error.message : String(error)}\n`);
      } finally {
        clearTimeout(slow);
      }
    }
  })();
  return tearingDown;
}

async function step<T>(title: string, body: () => Promise<T>): Promise<T> {
  const from = Date.now();
  const result = await body();
  say(`${title} (${((Date.now() - from) / 1000).toFixed(1)}s)`);
  return result;
}

function spawnLogged(argv: string[], logFile: string, env: NodeJS.ProcessEnv): ChildProcess {
  const log = openSync(logFile, 'a');
  const [file, ...args] = argv;
  const child = spawn(file as string, args, { cwd: REPO_ROOT, stdio: ['ignore', log, log], env });
  closeSync(log);
  return child;
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const hard = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(hard);
}

async function kubectlOk(kubectl: Kubectl, args: string[], stdin?: string): Promise<string> {
  const result = await kubectl.run(args, stdin === undefined ? {} : { stdin });
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr.trim() || result.stdout.trim()}`);
  return result.stdout;
}

/** Whether this checkout's CLI has a subcommand (parts of the project land at different times). */
async function hasSubcommand(name: string): Promise<boolean> {
  const child = spawn(process.execPath, [ANCHORLB, name, '--help'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise((resolve) => child.once('close', resolve));
  // An unknown subcommand gets the program's own usage instead of the subcommand's.
  return output.includes(`Usage: anchorlb ${name}`);
}

function configuration(routerAddress: string): string {
  return `apiVersion: anchorlb.io/v1beta1
kind: IPAddressPool
metadata: { name: demo, namespace: ${NS} }
spec:
  addresses: ["${POOL}"]
---
apiVersion: anchorlb.io/v1beta1
kind: L2Advertisement
metadata: { name: demo, namespace: ${NS} }
spec:
  ipAddressPools: [demo]
  # The owner also puts the VIP on lo, so it answers the client's pings itself.
  bindToInterface: lo
---
apiVersion: anchorlb.io/v1beta1
kind: BGPPeer
metadata: { name: router, namespace: ${NS} }
spec:
  myASN: ${NODE_ASN}
  peerASN: ${ROUTER_ASN}
  peerAddress: ${routerAddress}
  holdTime: 9s
  keepaliveTime: 3s
---
apiVersion: anchorlb.io/v1beta1
kind: BGPAdvertisement
metadata: { name: demo, namespace: ${NS} }
spec:
  ipAddressPools: [demo]
  peers: [router]
`;
}

function service(nodes: Array<{ name: string; address: string }>): string {
  const endpoints = nodes.map((node) => `  - addresses: ["${node.address}"]\n    conditions: { ready: true, serving: true, terminating: false }\n    nodeName: ${node.name}`).join('\n');
  return `apiVersion: v1
kind: Namespace
metadata: { name: ${APP_NS} }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: ${APP_NS} }
spec:
  type: LoadBalancer
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: 8080, protocol: TCP }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: ${APP_NS}
  labels: { kubernetes.io/service-name: web }
addressType: IPv4
ports: [{ name: http, port: 8080, protocol: TCP }]
endpoints:
${endpoints}
`;
}

/** MAC address of the testbed interface in each node's namespace, for naming who answers ARP. */
async function nodeMacs(testbed: Testbed, names: string[]): Promise<Map<string, string>> {
  const macs = new Map<string, string>();
  for (const [index, node] of testbed.nodes.entries()) {
    const links = JSON.parse((await testbed.exec(node.ns, ['ip', '-j', 'link', 'show', 'dev', testbed.iface])).stdout) as Array<{ address?: string }>;
    macs.set((links[0]?.address ?? '').toLowerCase(), names[index] ?? node.ns);
  }
  return macs;
}

async function arping(testbed: Testbed, ip: string): Promise<string[]> {
  const client = testbed.client as NonNullable<Testbed['client']>;
  const { stdout } = await testbed.exec(client.ns, ['arping', '-c', '3', '-w', '3', '-I', testbed.iface, ip], { allowFailure: true });
  return [...new Set([...stdout.matchAll(/reply from \S+ \[([0-9A-Fa-f:]{17})\]/g)].map((match) => (match[1] ?? '').toLowerCase()))];
}

async function routerView(testbed: Testbed, router: FrrRouter, vip: string): Promise<{ bgpNextHops: string[]; fib: string }> {
  const paths = await router.paths(`${vip}/32`);
  const bgpNextHops = paths.flatMap((path) => (path.valid === true ? (path.nexthops ?? []).map((hop) => hop.ip) : [])).sort();
  const fib = (await testbed.exec(router.ns, ['ip', 'route', 'show', vip])).stdout.trim();
  return { bgpNextHops, fib };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the demo needs root (network namespaces)');
  const prefix = flags.prefix ?? `demo${randomBytes(2).toString('hex')}`;
  const workDir = join('/run/anchorlb-demo', prefix);
  mkdirSync(join(workDir, 'logs'), { recursive: true });
  cleanups.push({
    what: 'work directory',
    run: async () => {
      if (failed) say(`logs kept in ${workDir}/logs`);
      else rmSync(workDir, { recursive: true, force: true });
    },
  });
  say(`anchorlb demo ${prefix}: logs in ${workDir}/logs`);

  // The CLI check takes a while (tsx start-up): run it while the rest comes up.
  const speakerCommand = hasSubcommand('speaker');
  const testbed = await step('testbed: 3 nodes, a router and a client on one bridge (192.0.2.0/24)', () => Testbed.create({ nodes: 3, client: true, prefix }));
  cleanups.push({ what: 'testbed', run: () => testbed.destroy() });
  const client = testbed.client as NonNullable<Testbed['client']>;
  const nodeNames = testbed.nodes.map((_, index) => `node${index + 1}`);
  await step('nodes: arp_ignore=1, arp_announce=2 (the VIP goes on lo; only the elected speaker may answer ARP for it, as with strictARP)', async () => {
    for (const node of testbed.nodes) await testbed.exec(node.ns, ['sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
  });

  const router = await step(`router: FRR (zebra + bgpd, AS ${ROUTER_ASN}) expecting the three nodes (AS ${NODE_ASN})`, () =>
    testbed.startFrr(testbed.router.ns, { asn: ROUTER_ASN, routerId: testbed.router.ipv4, neighbors: testbed.nodes.map((node) => ({ address: node.ipv4, asn: NODE_ASN })) }),
  );

  const server: LocalApiServer = await step('API server: anchorlb local-apiserver (HTTPS, RBAC)', () => startLocalApiServer({ host: '127.0.0.1', port: 0, tls: true, dataDir: join(workDir, 'apiserver') }));
  cleanups.push({ what: 'API server', run: () => server.stop() });
  const kubeconfig = server.kubeconfigPath();
  const cacheDir = join(workDir, 'kubectl-cache');
  const kubectl = new Kubectl(kubeconfig, cacheDir);

  await step('kubectl apply -f crds/', () => kubectlOk(kubectl, ['apply', '-f', join(REPO_ROOT, 'crds')]));
  await step(`kubectl create namespace ${NS}; apply config/rbac/operator.yaml and config/samples/anchorlb.yaml`, async () => {
    await kubectlOk(kubectl, ['create', 'namespace', NS]);
    await kubectlOk(kubectl, ['apply', '-f', join(REPO_ROOT, 'config/rbac/operator.yaml')]);
    await kubectlOk(kubectl, ['apply', '-f', join(REPO_ROOT, 'config/samples/anchorlb.yaml')]);
  });

  const operatorKubeconfig = await server.createServiceAccountKubeconfig(NS, 'anchorlb-operator');
  const operator = spawnLogged([process.execPath, ANCHORLB, 'operator', '--kubeconfig', operatorKubeconfig, '--namespace', NS, '--metrics-port', '0', '--metrics-host', '127.0.0.1'], join(workDir, 'logs/operator.log'), {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
  });
  cleanups.push({ what: 'operator', run: () => killAndWait(operator) });
  await step('operator: rendered the controller Deployment and the speaker DaemonSet', () =>
    waitFor('the operator to create its workloads', async () => (await kubectl.run(['get', '-n', NS, 'deployment/anchorlb-controller', 'daemonset/anchorlb-speaker'])).code === 0, 60_000, 250),
  );

  const agent = new NodeAgent({
    kubeConfig: loadKubeConfig(kubeconfig),
    nodes: testbed.nodes.map((node, index) => ({ name: nodeNames[index] as string, netns: node.ns, address: node.ipv4, address6: node.ipv6 })),
    workDir,
    relayApiServer: true,
    logger: pino({ name: 'node-agent', base: { component: 'node-agent' } }, pino.destination({ dest: join(workDir, 'logs/node-agent.log'), sync: false })),
  });
  cleanups.push({ what: 'node agent', run: () => agent.stop() });
  await step('node agent: Node objects registered, API server relayed into each node namespace', () => agent.start());

  const speakerAvailable = await speakerCommand;
  if (!speakerAvailable) skipped.push('speakers (ARP, BGP, VIPStatus, failover)');
  if (!speakerAvailable) say('NOT AVAILABLE YET: this checkout has no `anchorlb speaker` command; the speaker pods will crash-loop (see logs) and the steps that need speakers are skipped');

  const available = await step('workloads running as the operator rendered them', () =>
    waitFor(
      'AnchorLB Available',
      async () => {
        const condition = (await kubectl.run(['get', '-n', NS, 'anchorlb/anchorlb', '-o', 'jsonpath={.status.conditions[?(@.type=="Available")].status}'])).stdout;
        if (condition === 'True') return true;
        // Without speakers, the controller alone is what can become ready.
        return !speakerAvailable && (await kubectl.run(['get', '-n', NS, 'deployment/anchorlb-controller', '-o', 'jsonpath={.status.readyReplicas}'])).stdout === '1' ? 'controller only' : undefined;
      },
      120_000,
      500,
    ),
  );
  detail((await kubectlOk(kubectl, ['get', 'pods', '-A', '-o', 'wide'])).split('\n').map((line) => line.replace(/\s+$/, '')).join('\n'));
  detail(await kubectlOk(kubectl, ['get', 'anchorlb', '-n', NS]));
  if (available !== true) say('AnchorLB is not Available: speakers are not running (see above)');

  const manifests = join(workDir, 'manifests');
  mkdirSync(manifests, { recursive: true });
  writeFileSync(join(manifests, 'configuration.yaml'), configuration(testbed.router.ipv4));
  writeFileSync(join(manifests, 'service.yaml'), service(testbed.nodes.map((node, index) => ({ name: nodeNames[index] as string, address: node.ipv4 }))));
  await step(`kubectl apply: IPAddressPool ${POOL}, L2Advertisement (bindToInterface lo), BGPPeer ${testbed.router.ipv4}, BGPAdvertisement`, () =>
    kubectlOk(kubectl, ['apply', '-f', join(manifests, 'configuration.yaml')]),
  );
  await step(`kubectl apply: Service ${APP_NS}/web (LoadBalancer) with an EndpointSlice on the three nodes`, () => kubectlOk(kubectl, ['apply', '-f', join(manifests, 'service.yaml')]));
  const vip = await step('controller: Service web got its IP', () =>
    waitFor('the Service IP', async () => (await kubectl.run(['get', '-n', APP_NS, 'service/web', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).stdout.trim() || undefined, 60_000, 250),
  );
  detail(await kubectlOk(kubectl, ['get', 'service', '-n', APP_NS, 'web']));

  if (speakerAvailable) {
    const macs = await nodeMacs(testbed, nodeNames);
    const answering = await step(`client: arping ${vip}`, () =>
      waitFor(`an ARP answer for ${vip}`, async () => {
        const macsAnswering = await arping(testbed, vip);
        return macsAnswering.length > 0 ? macsAnswering : undefined;
      }, 60_000, 200),
    );
    const owner = answering.length === 1 ? macs.get(answering[0] as string) : undefined;
    detail(`${vip} is at ${answering.join(', ')} (${answering.map((mac) => macs.get(mac) ?? 'not a node').join(', ')})`);
    expectShown(answering.length === 1 && owner !== undefined, `client: exactly one node answers ARP for ${vip} (${answering.length} answered)`);
    const ping = await testbed.exec(client.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '1', vip], { allowFailure: true });
    const answered = Number(/(\d+) received/.exec(ping.stdout)?.[1] ?? 0);
    expectShown(answered === 3, `client: ping ${vip}: ${answered}/3 answered`);

    const ecmp = (view: { bgpNextHops: string[]; fib: string }): boolean => view.bgpNextHops.length >= testbed.nodes.length && view.fib.includes('nexthop');
    const routes = await step(`router: BGP routes for ${vip}/32`, () =>
      waitFor('ECMP routes on the router', async () => {
        const view = await routerView(testbed, router, vip);
        return ecmp(view) ? view : undefined;
      }, 60_000, 250).catch(() => routerView(testbed, router, vip)),
    );
    detail(`show bgp ipv4 unicast ${vip}/32: ${routes.bgpNextHops.length} valid paths via ${routes.bgpNextHops.join(', ') || 'none'}`);
    detail(`ip route show ${vip}:\n${routes.fib || '(no route)'}`);
    expectShown(ecmp(routes), `router: one BGP path per node (${routes.bgpNextHops.length} of ${testbed.nodes.length}), installed as an ECMP route`);

    detail(await kubectlOk(kubectl, ['get', 'vipstatus', '-A']));

    if (owner === undefined) expectShown(false, 'failover not shown: no single L2 owner to fail');
    else {
      const pod = agent.pods().find((candidate) => candidate.owner.startsWith('DaemonSet/') && candidate.nodeName === owner);
      if (pod?.pid === undefined) throw new Error(`no running speaker on ${owner}`);
      const pinger = await Pinger.start(testbed, client, vip, 5);
      await pinger.waitForAnswerAfter(0);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const ownerMac = answering[0] as string;
      // A node failure, not only a crashed process: the killed speaker leaves the VIP on the
      // node's lo, where it would go on answering the client through its cached ARP entry, so
      // the node's switch port goes down too and only a takeover brings the answers back.
      const ownerIndex = nodeNames.indexOf(owner);
      const switchPort = `${testbed.prefix}-n${ownerIndex + 1}`;
      const setLink = (up: boolean) => testbed.exec(`${testbed.prefix}-sw`, ['ip', 'link', 'set', switchPort, up ? 'up' : 'down']);
      const killedAt = Date.now();
      process.kill(pod.pid, 'SIGKILL');
      await setLink(false);
      say(`failover: ${owner} fails: SIGKILL to its speaker (pid ${pod.pid}) and its link cut; client pinging ${vip} every 5 ms`);
      // The takeover as the client sees it: its ARP entry for the VIP moves to the successor's MAC (gratuitous ARP).
      const successorMac = await waitFor('the client ARP entry to move', async () => {
        const entries = JSON.parse((await testbed.exec(client.ns, ['ip', '-j', 'neigh', 'show', vip])).stdout || '[]') as Array<{ lladdr?: string }>;
        const mac = entries[0]?.lladdr?.toLowerCase();
        return mac !== undefined && mac !== ownerMac ? mac : undefined;
      }, 30_000, 5);
      const takeoverMs = Date.now() - killedAt;
      const before = pinger.highestAnswered;
      await pinger.waitForAnswerAfter(before + 1, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const outage = await pinger.stop(testbed);
      const successor = macs.get(successorMac);
      say(`failover: ${successor ?? successorMac} took over ${vip} ${takeoverMs} ms after the failure (the client's ARP entry moved); pings: longest gap ${Math.round(outage.outageMs)} ms, ${outage.lost.length} of ${outage.sent} lost`);
      expectShown(successor !== undefined && successor !== owner, `failover: the successor is another node (${successor ?? successorMac})`);
      expectShown(takeoverMs < TAKEOVER_BOUND_MS, `failover: takeover within ${TAKEOVER_BOUND_MS} ms (${takeoverMs} ms)`);
      expectShown(outage.outageMs >= MIN_REAL_OUTAGE_MS && outage.lost.length > 0, `failover: the client saw the failure and the recovery (a gap of ${Math.round(outage.outageMs)} ms, at least ${MIN_REAL_OUTAGE_MS} ms when the old owner really stopped answering)`);
      const events = await kubectl.run(['get', 'events', '-n', APP_NS, '--sort-by=.lastTimestamp']);
      detail(events.stdout || events.stderr);
      await setLink(true);
      say(`failover: ${owner}'s link is back`);
      const restarted = await waitFor(`the speaker on ${owner} restarted`, () => agent.pods().find((candidate) => candidate.name === pod.name && candidate.ready && candidate.restarts > 0), 120_000, 250).catch(() => undefined);
      expectShown(restarted !== undefined, `node agent: restarted the speaker on ${owner}${restarted ? ` (restarts: ${restarted.restarts})` : ''}, as a kubelet would`);
      // Settled again (the restarted node may take the IP back: no failbackDelay here): one node
      // answers ARP and only that node holds the VIP on lo; nothing of the killed run answers.
      const holders = async (): Promise<string[]> => {
        const found: string[] = [];
        for (const [index, node] of testbed.nodes.entries()) if ((await testbed.exec(node.ns, ['ip', '-o', 'addr', 'show', 'dev', 'lo'])).stdout.includes(` ${vip}/`)) found.push(nodeNames[index] as string);
        return found;
      };
      const settled = await waitFor(`one ARP answer for ${vip} and ${vip} on that node's lo only`, async () => {
        const answeringNow = await arping(testbed, vip);
        const onLo = await holders();
        return answeringNow.length === 1 && onLo.length === 1 && onLo[0] === macs.get(answeringNow[0] as string) ? onLo[0] : undefined;
      }, 60_000, 500).catch(() => undefined);
      expectShown(settled !== undefined, `after the restart: one node answers ARP for ${vip} and only it holds ${vip} on lo (${settled ?? `on lo: ${(await holders()).join(', ') || 'none'}`})`);
    }
  }

  if (flags.keep) {
    say('running; explore, then Ctrl-C here to tear everything down:');
    detail(
      [
        `export KUBECONFIG=${kubeconfig}`,
        `${join(REPO_ROOT, '.tools/bin/kubectl')} get vipstatus,svc -A; ... get pods -A -o wide`,
        `ip netns exec ${client.ns} arping -c 2 -I ${testbed.iface} ${vip}`,
        `vtysh --vty_socket ${router.dir} -c 'show bgp ipv4 unicast'`,
        `ip netns exec ${testbed.router.ns} ip route`,
        `logs: ${workDir}/logs`,
      ].join('\n'),
    );
    await new Promise<void>((resolve) => (endKeep = resolve));
  }
}

let failed = false;
/** Steps skipped because a part of the project is missing from this checkout: the run is then incomplete. */
const skipped: string[] = [];
/** Set while --keep waits: a signal then ends the wait and the normal teardown runs. */
let endKeep: (() => void) | undefined;
let interrupted = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (endKeep) return endKeep();
  interrupted = true;
  say(`${signal}: tearing down`);
  void teardown().then(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

try {
  await main();
} catch (error) {
  failed = true;
  say(`FAILED: ${error instanceof Error ? error.message : String(error)}`);
}
if (!interrupted) {
  await step('teardown: processes stopped, namespaces and state removed', teardown);
  if (failed) say('demo failed');
  else if (problems.length > 0) say(`demo FAILED: what it showed did not happen:\n${problems.map((line) => `          - ${line}`).join('\n')}`);
  else if (skipped.length > 0) say(`demo INCOMPLETE: not available in this checkout yet: ${skipped.join('; ')}`);
  else say('demo done');
  // 1: failed or showed a failure; 3: ran to the end, but without some parts (so CI cannot mistake it for a full run).
  process.exit(failed || problems.length > 0 ? 1 : skipped.length > 0 ? 3 : 0);
}
