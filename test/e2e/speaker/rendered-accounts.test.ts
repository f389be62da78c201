// The real `anchorlb controller` and `anchorlb speaker` processes under the service accounts and
// RBAC the operator renders for an installation (config/rbac through the operator's render()), in a
// node namespace against the project's API server (HTTPS, RBAC decided as kube-apiserver decides
// it): every kind of write each makes must be allowed, and a refused one must not pass unseen.
// The controller writes Service status, the pool annotation, Events and pool status; the speaker
// VIPStatus and Events, and deletes its VIPStatus when it stops. (BGPPeer status, written in BGP
// mode, is not exercised here.)
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { renderedAccountsYaml } from '../../support/accounts.ts';
import { REPO_ROOT } from '../../support/apiserver.ts';
import { SPEAKER_NAMESPACE as NS, withSpeakerNodes } from '../../support/speaker-nodes.ts';
import { waitFor } from '../../support/testbed.ts';

const APP_NS = 'shop';
const NODE = 'node1';

interface Item {
  metadata: { name: string; annotations?: Record<string, string> };
  status?: Record<string, unknown>;
  reason?: string;
  source?: { component?: string };
  involvedObject?: { name?: string };
}

describe('the real controller and speaker under the accounts the operator renders', function () {
  this.timeout(180_000);
  const suite = withSpeakerNodes('anchorlb-rendered-accounts-');
  const nodes = () => suite.nodes();
  const kubectl = (args: string[], stdin?: string): Promise<string> => nodes().kubectl(args, stdin);
  const getJson = async <T>(args: string[]): Promise<T> => JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
  const controllerLog = () => join(suite.workDir, 'controller.log');
  let controller: ChildProcess | undefined;
  let ip = '';

  before(async function () {
    this.timeout(150_000);
    const testbed = (await suite.create({ nodeNames: [NODE], appNamespaces: [APP_NS], prefix: `ra${randomBytes(3).toString('hex')}` })).testbed;
    // Exactly the accounts and permissions the operator creates for an AnchorLB in NS.
    await kubectl(['apply', '-f', '-'], await renderedAccountsYaml(NS));
    await kubectl(['apply', '-f', '-'], `apiVersion: anchorlb.io/v1beta1
kind: IPAddressPool
metadata: { name: shop, namespace: ${NS} }
spec:
  addresses: ["192.0.2.220-192.0.2.222"]
---
apiVersion: anchorlb.io/v1beta1
kind: L2Advertisement
metadata: { name: shop, namespace: ${NS} }
spec:
  ipAddressPools: [shop]
  interfaces: [${testbed.iface}]
`);
    const controllerKubeconfig = await suite.cluster.server.createServiceAccountKubeconfig(NS, 'anchorlb-controller');
    const speakerKubeconfig = await suite.cluster.server.createServiceAccountKubeconfig(NS, 'anchorlb-speaker');
    const argv = [process.execPath, join(REPO_ROOT, 'bin/anchorlb.js'), 'controller', '--kubeconfig', controllerKubeconfig, '--pool-namespace', NS, '--metrics-port', '0', '--metrics-host', '127.0.0.1'];
    const started = await testbed.spawn(nodes().nsOf(NODE), argv, { logFile: controllerLog() });
    controller = started;
    await waitFor('the controller to run', () => {
      if (started.exitCode !== null) throw new Error(`the controller exited (${started.exitCode}): ${readFileSync(controllerLog(), 'utf8')}`);
      return readFileSync(controllerLog(), 'utf8').includes('"msg":"controller running"');
    }, 60_000, 100);
    await nodes().startSpeaker(NODE, { kubeconfig: speakerKubeconfig });
    await kubectl(['apply', '-f', '-'], `apiVersion: v1
kind: Service
metadata: { name: web, namespace: ${APP_NS} }
spec:
  type: LoadBalancer
  selector: { app: web }
  ports: [{ name: http, port: 80, protocol: TCP }]
`);
  });

  after(async () => {
    if (controller) await nodes().testbed.kill(controller, 'SIGKILL');
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- controller log, last lines ---\n${readFileSync(controllerLog(), 'utf8').split('\n').slice(-15).join('\n')}\n`);
  });

  it('lets the controller write the Service status, its pool annotation, an Event and the pool status', async () => {
    ip = await waitFor('an address in the Service status', async () => {
      const service = await getJson<Item & { status?: { loadBalancer?: { ingress?: { ip: string }[] } } }>(['get', 'service', 'web', '-n', APP_NS]);
      return service.status?.loadBalancer?.ingress?.[0]?.ip;
    }, 60_000, 200);
    expect(ip).to.match(/^192\.0\.2\.22[0-2]$/);
    const service = await getJson<Item>(['get', 'service', 'web', '-n', APP_NS]);
    expect(service.metadata.annotations?.['anchorlb.io/ip-allocated-from-pool']).to.equal('shop');
    await waitFor('the IPAllocated Event', async () => {
      const events = await getJson<{ items: Item[] }>(['get', 'events', '-n', APP_NS]);
      return events.items.some((event) => event.reason === 'IPAllocated' && event.source?.component === 'anchorlb-controller' && event.involvedObject?.name === 'web');
    }, 30_000, 200);
    await waitFor('the pool status counting it', async () => (await getJson<Item>(['get', 'ipaddresspool', 'shop', '-n', NS])).status?.assignedIPv4 === 1, 30_000, 200);
  });

  it('lets the speaker write its VIPStatus and its Announced Event', async () => {
    const statuses = await waitFor('the VIPStatus of the address', async () => {
      const list = await getJson<{ items: Item[] }>(['get', 'vipstatus', '-A']);
      const mine = list.items.filter((item) => item.status?.ip === ip);
      return mine.length > 0 ? mine : undefined;
    }, 60_000, 200);
    expect(statuses.map((item) => item.status?.node)).to.deep.equal([NODE]);
    await waitFor('the Announced Event', async () => {
      const events = await getJson<{ items: Item[] }>(['get', 'events', '-n', APP_NS]);
      return events.items.some((event) => event.reason === 'Announced' && event.source?.component === 'anchorlb-speaker' && event.involvedObject?.name === 'web');
    }, 30_000, 200);
  });

  it('has neither process refused anything', () => {
    for (const log of [controllerLog(), nodes().logOf(NODE)]) {
      const text = readFileSync(log, 'utf8');
      expect(text, log).to.not.match(/could not record event|HTTP 40[13]|forbidden/i);
    }
  });

  it('lets a stopping speaker delete its own VIPStatus', async () => {
    await nodes().stopSpeaker(NODE, 'SIGTERM');
    const list = await getJson<{ items: Item[] }>(['get', 'vipstatus', '-A']);
    expect(list.items.filter((item) => item.status?.ip === ip)).to.deep.equal([]);
    expect(readFileSync(nodes().logOf(NODE), 'utf8')).to.not.match(/HTTP 40[13]|forbidden/i);
  });
});
