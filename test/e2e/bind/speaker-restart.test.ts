// The real `anchorlb speaker` processes in Layer 2 mode with bindToInterface lo, two node
// namespaces, against the project's API server (relayed by the node agent): the owner's speaker
// is SIGKILLed, the other node takes the VIP over, and when the killed speaker starts again it
// removes the VIP its predecessor left on lo (before, the node kept answering for an address
// another node owns), and leaves the address the admin put on lo alone.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { NodeAgent } from '../../../src/localcluster/node-agent.ts';
import { defaultBindStateFile } from '../../../src/speaker/bind.ts';
import { REPO_ROOT, withLocalApiServer } from '../../support/apiserver.ts';
import { run, Testbed, waitFor } from '../../support/testbed.ts';

const NS = 'anchorlb-system';
const VIP = '192.0.2.200';
const ADMINS = '198.51.100.77';
const NODE_NAMES = ['node1', 'node2'];

describe('anchorlb speaker processes: a restarted speaker removes the bindToInterface VIP its killed predecessor left', function () {
  this.timeout(180_000);
  const workDir = mkdtempSync(join(tmpdir(), 'anchorlb-bind-restart-'));
  let testbed: Testbed | undefined;
  let agent: NodeAgent | undefined;
  const speakers = new Map<string, ChildProcess>();
  let failed = false;

  // Before the API server's own after hook (mocha runs after hooks in the order they were added).
  after(async function () {
    this.timeout(60_000);
    for (const child of speakers.values()) await testbed?.kill(child, 'SIGKILL');
    // The killed speakers' records of bound addresses (their default path), before the namespaces go.
    for (const [index, node] of (testbed?.nodes ?? []).entries()) {
      const netns = (await run(['stat', '-L', '-c', '%i', `/run/netns/${node.ns}`], { allowFailure: true })).stdout.trim();
      if (netns !== '') rmSync(defaultBindStateFile(NODE_NAMES[index] as string, netns), { force: true });
    }
    await agent?.stop();
    await testbed?.destroy();
    if (failed) process.stderr.write(`speaker and node agent logs kept in ${workDir}\n`);
    else rmSync(workDir, { recursive: true, force: true });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  const cluster = withLocalApiServer({ tls: true });
  const bed = () => testbed as Testbed;
  const nsOf = (name: string) => (bed().nodes[NODE_NAMES.indexOf(name)] as Testbed['nodes'][number]).ns;

  async function kubectl(args: string[], stdin?: string): Promise<string> {
    const result = await cluster.kubectl(args, stdin === undefined ? {} : { stdin });
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr.trim()}`);
    return result.stdout;
  }

  async function onLo(name: string): Promise<string[]> {
    const links = JSON.parse((await bed().exec(nsOf(name), ['ip', '-j', 'addr', 'show', 'dev', 'lo'])).stdout) as Array<{ addr_info?: Array<{ local: string }> }>;
    return links.flatMap((link) => (link.addr_info ?? []).map((info) => info.local));
  }

  async function holders(): Promise<string[]> {
    const held = await Promise.all(NODE_NAMES.map(async (name) => ((await onLo(name)).includes(VIP) ? [name] : [])));
    return held.flat();
  }

  async function startSpeaker(name: string): Promise<void> {
    const log = join(workDir, `${name}.log`);
    const from = existsSync(log) ? readFileSync(log).length : 0;
    const argv = [process.execPath, join(REPO_ROOT, 'bin/anchorlb.js'), 'speaker', '--kubeconfig', cluster.kubeconfigPath, '--node-name', name, '--namespace', NS, '--liveness-secret', 'anchorlb-liveness', '--modes', 'l2', '--metrics-port', '0', '--metrics-host', '127.0.0.1'];
    const child = await bed().spawn(nsOf(name), argv, { logFile: log });
    speakers.set(name, child);
    await waitFor(`the speaker on ${name} to run`, () => {
      if (child.exitCode !== null) throw new Error(`the speaker on ${name} exited (${child.exitCode}): ${readFileSync(log, 'utf8').slice(from)}`);
      return readFileSync(log).subarray(from).includes('"msg":"speaker running"');
    }, 60_000, 100);
  }

  function advertisement(nodes: string[]): string {
    return `apiVersion: anchorlb.io/v1beta1
kind: L2Advertisement
metadata: { name: shop, namespace: ${NS} }
spec:
  ipAddressPools: [shop]
  interfaces: [${bed().iface}]
  bindToInterface: lo
  nodeSelectors: [{ matchExpressions: [{ key: kubernetes.io/hostname, operator: In, values: [${nodes.join(', ')}] }] }]
`;
  }

  before(async function () {
    this.timeout(120_000);
    testbed = await Testbed.create({ nodes: NODE_NAMES.length, prefix: `br${randomBytes(3).toString('hex')}` });
    for (const node of testbed.nodes) await testbed.exec(node.ns, ['sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
    await kubectl(['apply', '-f', join(REPO_ROOT, 'crds')]);
    await kubectl(['create', 'namespace', NS]);
    await kubectl(['create', 'namespace', 'shop']);
    await kubectl(['create', 'secret', 'generic', 'anchorlb-liveness', '-n', NS, `--from-literal=key=${randomBytes(32).toString('base64')}`]);
    agent = new NodeAgent({
      kubeConfig: cluster.kubeConfig,
      nodes: testbed.nodes.map((node, index) => ({ name: NODE_NAMES[index] as string, netns: node.ns, address: node.ipv4 })),
      workDir,
      relayApiServer: true,
      logger: pino({ base: { component: 'node-agent' } }, pino.destination({ dest: join(workDir, 'node-agent.log'), sync: false })),
    });
    await agent.start();
    await kubectl(['apply', '-f', '-'], `apiVersion: anchorlb.io/v1beta1
kind: IPAddressPool
metadata: { name: shop, namespace: ${NS} }
spec:
  addresses: ["${VIP}/32"]
---
${advertisement(NODE_NAMES)}---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec:
  type: LoadBalancer
  selector: { app: web }
  ports: [{ name: http, port: 80, protocol: TCP }]
`);
    // The controller's part, done by hand: this test is about the speakers.
    await kubectl(['patch', 'service', 'web', '-n', 'shop', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: VIP }] } } })]);
    await Promise.all(NODE_NAMES.map(startSpeaker));
  });

  it('SIGKILL to the owner, the VIP moves; the restarted speaker removes its leftover VIP, not the admin\'s address', async () => {
    const owner = (await waitFor(`one node holding ${VIP} on lo`, async () => {
      const held = await holders();
      return held.length === 1 ? held : undefined;
    }, 60_000, 200))[0] as string;
    const other = NODE_NAMES.find((name) => name !== owner) as string;
    await bed().exec(nsOf(owner), ['ip', 'addr', 'add', `${ADMINS}/32`, 'dev', 'lo']);

    await bed().kill(speakers.get(owner) as ChildProcess, 'SIGKILL');
    // While it is down, the advertisement stops selecting it: the other node owns the VIP for good.
    await kubectl(['apply', '-f', '-'], advertisement([other]));
    await waitFor(`${other} to take ${VIP} over`, async () => (await onLo(other)).includes(VIP), 30_000, 100);
    expect(await holders(), 'the killed speaker left the VIP on lo (what the restart must clean up)').to.have.members([owner, other]);

    await startSpeaker(owner);
    await waitFor(`the restarted speaker on ${owner} to remove ${VIP} from lo`, async () => !(await onLo(owner)).includes(VIP), 30_000, 200);
    expect(await holders()).to.deep.equal([other]);
    expect(await onLo(owner), 'the admin\'s address stays').to.include(ADMINS);
    expect(readFileSync(join(workDir, `${owner}.log`), 'utf8')).to.contain('addresses a previous run bound, removed unless still wanted');
  });
});
