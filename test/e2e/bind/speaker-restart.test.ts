// The real `anchorlb speaker` processes in Layer 2 mode with bindToInterface lo, two node
// namespaces, against the project's API server (relayed by the node agent): the owner's speaker
// is SIGKILLed, the other node takes the VIP over, and when the killed speaker starts again it
// removes the VIP its predecessor left on lo (before, the node kept answering for an address
// another node owns), and leaves the address the admin put on lo alone. A node whose record
// cannot be written does not add the VIP (a killed speaker's address could never be cleaned up)
// and says so in its log and in a BindFailed Event on the Service.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { defaultBindStateFile } from '../../../src/speaker/bind.ts';
import { SPEAKER_NAMESPACE as NS, withSpeakerNodes } from '../../support/speaker-nodes.ts';
import { waitFor } from '../../support/testbed.ts';

const VIP = '192.0.2.200';
const ADMINS = '198.51.100.77';
const NODE_NAMES = ['node1', 'node2'];

describe('anchorlb speaker processes: a restarted speaker removes the bindToInterface VIP its killed predecessor left; no VIP on lo without its record', function () {
  this.timeout(180_000);
  const suite = withSpeakerNodes('anchorlb-bind-restart-');
  const { workDir } = suite;
  const nodes = () => suite.nodes();
  const bed = () => nodes().testbed;
  const nsOf = (name: string) => nodes().nsOf(name);
  const kubectl = (args: string[], stdin?: string): Promise<string> => nodes().kubectl(args, stdin);

  async function onLo(name: string): Promise<string[]> {
    const links = JSON.parse((await bed().exec(nsOf(name), ['ip', '-j', 'addr', 'show', 'dev', 'lo'])).stdout) as Array<{ addr_info?: Array<{ local: string }> }>;
    return links.flatMap((link) => (link.addr_info ?? []).map((info) => info.local));
  }

  async function holders(): Promise<string[]> {
    const held = await Promise.all(NODE_NAMES.map(async (name) => ((await onLo(name)).includes(VIP) ? [name] : [])));
    return held.flat();
  }

  const startSpeaker = (name: string) => nodes().startSpeaker(name);

  function advertisement(selected: string[]): string {
    return `apiVersion: anchorlb.io/v1beta1
kind: L2Advertisement
metadata: { name: shop, namespace: ${NS} }
spec:
  ipAddressPools: [shop]
  interfaces: [${bed().iface}]
  bindToInterface: lo
  nodeSelectors: [{ matchExpressions: [{ key: kubernetes.io/hostname, operator: In, values: [${selected.join(', ')}] }] }]
`;
  }

  before(async function () {
    this.timeout(120_000);
    await suite.create({ nodeNames: NODE_NAMES, appNamespaces: ['shop'], prefix: `br${randomBytes(3).toString('hex')}` });
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
    await Promise.all(NODE_NAMES.map((name) => startSpeaker(name)));
  });

  it('SIGKILL to the owner, the VIP moves; the restarted speaker removes its leftover VIP, not the admin\'s address', async () => {
    const owner = (await waitFor(`one node holding ${VIP} on lo`, async () => {
      const held = await holders();
      return held.length === 1 ? held : undefined;
    }, 60_000, 200))[0] as string;
    const other = NODE_NAMES.find((name) => name !== owner) as string;
    await bed().exec(nsOf(owner), ['ip', 'addr', 'add', `${ADMINS}/32`, 'dev', 'lo']);

    await nodes().stopSpeaker(owner, 'SIGKILL');
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

  it('a node whose record cannot be written does not put the VIP on lo and says so (log, Service Event); it does once the record can be written', async () => {
    const held = await holders();
    const target = NODE_NAMES.find((name) => !held.includes(name)) as string;
    // A directory where the node's record should be: not writable, even for root.
    const record = defaultBindStateFile(target, String(statSync(`/run/netns/${nsOf(target)}`).ino));
    mkdirSync(record, { recursive: true });
    try {
      await kubectl(['apply', '-f', '-'], advertisement([target]));
      const event = await waitFor('a BindFailed Event on the Service', async () => {
        const events = JSON.parse(await kubectl(['get', 'events', '-n', 'shop', '-o', 'json'])) as { items: Array<{ reason?: string; message?: string; involvedObject?: { name?: string } }> };
        return events.items.find((item) => item.reason === 'BindFailed' && item.involvedObject?.name === 'web');
      }, 30_000, 200);
      expect(event.message).to.contain(`${VIP} is announced by L2 from ${target} but not held on lo`).and.contain(`cannot record the bound addresses in ${record}`);
      expect(await onLo(target), 'not added without its record').to.not.include(VIP);
      const log = readFileSync(join(workDir, `${target}.log`), 'utf8');
      expect(log).to.contain(`${VIP} not added to lo`).and.contain(record);

      rmSync(record, { recursive: true });
      // Any change makes the speaker apply again: the address is added now that it can be recorded.
      await kubectl(['label', 'service', 'web', '-n', 'shop', 'touched=yes', '--overwrite']);
      await waitFor(`${VIP} on lo of ${target}`, async () => (await onLo(target)).includes(VIP), 30_000, 200);
      expect(readFileSync(record, 'utf8')).to.contain(VIP);
    } finally {
      if (existsSync(record) && statSync(record).isDirectory()) rmSync(record, { recursive: true });
    }
  });
});
