// A real `anchorlb speaker` (Layer 2) in a node namespace, against the project's API server:
// the L2Advertisement names an interface the node does not have yet (a second link, a veth pair
// to the client, as a NIC plugged in or a VLAN created after boot). The speaker says so (log
// line, NoMatchingInterface Event on the Service) instead of staying silent; once the link is
// created it answers ARP there, without a restart; when the link is deleted it lets the IP go
// (no VIPStatus, reported again), and a link created again under the same name (another
// ifindex) is announced on again, also when it is deleted and created in one go (the raw socket
// on the old ifindex would hear nothing: it is reopened).
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { SPEAKER_NAMESPACE as NS, withSpeakerNodes } from '../../support/speaker-nodes.ts';
import { type Testbed, waitFor } from '../../support/testbed.ts';

const APP_NS = 'shop';
const VIP = '198.51.100.200';
/** The node's new link, and the client's end of it. */
const LINK = 'lan2';
const CLIENT_END = 'lan2c';
const NODE = 'node1';

interface EventItem {
  reason?: string;
  message?: string;
  involvedObject?: { name?: string };
}

describe('anchorlb speaker process, Layer 2: an interface that appears after the start is announced on, one that goes is let go', function () {
  this.timeout(180_000);
  const suite = withSpeakerNodes('anchorlb-l2-interfaces-');
  const nodes = () => suite.nodes();
  const bed = () => nodes().testbed;
  const client = () => bed().client as NonNullable<Testbed['client']>;
  const kubectl = (args: string[], stdin?: string): Promise<string> => nodes().kubectl(args, stdin);

  /** A veth pair from the client into the node namespace: LINK on the node, CLIENT_END (198.51.100.2) on the client. */
  async function plugLink(): Promise<void> {
    const nodeNs = bed().nodes[0]!.ns;
    await bed().exec(client().ns, ['ip', 'link', 'add', CLIENT_END, 'type', 'veth', 'peer', 'name', LINK, 'netns', nodeNs]);
    await bed().exec(client().ns, ['ip', 'addr', 'add', '198.51.100.2/24', 'dev', CLIENT_END]);
    await bed().exec(client().ns, ['ip', 'link', 'set', CLIENT_END, 'up']);
    await bed().exec(nodeNs, ['ip', 'link', 'set', LINK, 'up']);
  }

  async function arpAnswered(): Promise<boolean> {
    const { stdout } = await bed().exec(client().ns, ['arping', '-c', '2', '-w', '2', '-I', CLIENT_END, VIP], { allowFailure: true });
    return /reply from/.test(stdout);
  }

  async function vipStatuses(): Promise<Array<{ status?: { ip?: string; interface?: string; node?: string } }>> {
    const list = JSON.parse(await kubectl(['get', 'vipstatus', '-A', '-o', 'json'])) as { items: Array<{ status?: { ip?: string; interface?: string; node?: string } }> };
    return list.items.filter((item) => item.status?.ip === VIP);
  }

  async function noInterfaceEvents(): Promise<EventItem[]> {
    const list = JSON.parse(await kubectl(['get', 'events', '-n', APP_NS, '-o', 'json'])) as { items: EventItem[] };
    return list.items.filter((event) => event.reason === 'NoMatchingInterface' && event.involvedObject?.name === 'web');
  }

  const log = () => readFileSync(nodes().logOf(NODE), 'utf8');

  before(async function () {
    this.timeout(120_000);
    await suite.create({ nodeNames: [NODE], appNamespaces: [APP_NS], prefix: `li${randomBytes(3).toString('hex')}`, client: true });
    await kubectl(['apply', '-f', '-'], `apiVersion: anchorlb.io/v1beta1
kind: IPAddressPool
metadata: { name: shop, namespace: ${NS} }
spec:
  addresses: ["${VIP}/32"]
---
apiVersion: anchorlb.io/v1beta1
kind: L2Advertisement
metadata: { name: shop, namespace: ${NS} }
spec:
  ipAddressPools: [shop]
  interfaces: [${LINK}]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: ${APP_NS} }
spec:
  type: LoadBalancer
  selector: { app: web }
  ports: [{ name: http, port: 80, protocol: TCP }]
`);
    // The controller's part, done by hand: this test is about the speaker.
    await kubectl(['patch', 'service', 'web', '-n', APP_NS, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: VIP }] } } })]);
    await nodes().startSpeaker(NODE);
  });

  it('without the interface: not announced, and said so in the log and a Service Event', async () => {
    const [event] = await waitFor('a NoMatchingInterface Event on the Service', async () => {
      const events = await noInterfaceEvents();
      return events.length > 0 ? events : undefined;
    }, 30_000, 200);
    expect(event?.message).to.contain(`${NODE} has none of the interfaces its L2Advertisements name for ${VIP} (${LINK}; it has ${bed().iface})`);
    expect(log()).to.contain('no matching interface on this node');
    expect(await arpAnswered()).to.equal(false);
    expect(await vipStatuses()).to.deep.equal([]);
  });

  it('the link created on the node: answered on at once, without a restart, and its VIPStatus names it', async () => {
    const pid = nodes().speakers.get(NODE)?.pid;
    await plugLink();
    await waitFor(`an ARP answer for ${VIP} on ${LINK}`, () => arpAnswered(), 30_000, 200);
    const [status] = await waitFor('the VIPStatus', async () => {
      const items = await vipStatuses();
      return items.length > 0 ? items : undefined;
    }, 30_000, 200);
    expect(status?.status).to.include({ node: NODE, interface: LINK });
    expect(nodes().speakers.get(NODE)?.pid, 'the same speaker process').to.equal(pid);
    expect(nodes().speakers.get(NODE)?.exitCode).to.equal(null);
    expect(log()).to.contain('network interfaces changed');
  });

  it('the link deleted: the IP is let go (no VIPStatus) and reported again; created again (another ifindex): announced again', async () => {
    // Deletes both ends of the pair.
    await bed().exec(bed().nodes[0]!.ns, ['ip', 'link', 'del', LINK]);
    await waitFor('the VIPStatus to go', async () => (await vipStatuses()).length === 0, 30_000, 200);
    await waitFor('a second NoMatchingInterface Event', async () => (await noInterfaceEvents()).length >= 2, 30_000, 200);

    await plugLink();
    await waitFor(`an ARP answer for ${VIP} on the new ${LINK}`, () => arpAnswered(), 30_000, 200);
  });

  it('the link deleted and created again at once (one batch, same name, another ifindex): the raw socket is reopened, still answered', async () => {
    const nodeNs = bed().nodes[0]!.ns;
    const batch = join(bed().stateDir, 'recreate.batch');
    writeFileSync(batch, `link del ${LINK}\nlink add ${LINK} type veth peer name ${CLIENT_END} netns ${client().ns}\nlink set ${LINK} up\n`);
    const from = log().length;
    await bed().exec(nodeNs, ['ip', '-batch', batch]);
    await bed().exec(client().ns, ['ip', 'addr', 'add', '198.51.100.2/24', 'dev', CLIENT_END]);
    await bed().exec(client().ns, ['ip', 'link', 'set', CLIENT_END, 'up']);
    await waitFor(`an ARP answer for ${VIP} on the re-created ${LINK}`, () => arpAnswered(), 30_000, 200);
    expect(log().slice(from)).to.contain('interface re-created: raw socket reopened');
  });
});
