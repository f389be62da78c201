// Worker nodes of the real cluster: three kubelets, each with its own containerd (runc) and
// kube-proxy, in testbed namespaces; pods get addresses from the CNI bridge of their node.
import { expect } from 'chai';
import { Address4 } from 'ip-address';
import { waitFor } from '../support/testbed.ts';
import { PAUSE_IMAGE } from '../support/realcluster/images.ts';
import { KUBERNETES_VERSION, withRealCluster } from '../support/realcluster/index.ts';

interface NodeObject {
  metadata: { name: string };
  spec: { podCIDR?: string };
  status: { addresses?: Array<{ type: string; address: string }>; nodeInfo?: { kubeletVersion?: string; containerRuntimeVersion?: string } };
}

interface PodObject {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string };
}

function inCidr(address: string, cidr: string): boolean {
  return Address4.isValid(address) && new Address4(address).isInSubnet(new Address4(cidr));
}

describe(`real cluster: three worker nodes (kubelet ${KUBERNETES_VERSION}, containerd, kube-proxy)`, function () {
  const context = withRealCluster({ nodes: 3 });

  it('registers every node with its testbed address as InternalIP and its own pod CIDR', async function () {
    const cluster = context.cluster;
    const nodes = (JSON.parse(await cluster.kubectlOk(['get', 'nodes', '-o', 'json'])) as { items: NodeObject[] }).items;
    expect(nodes.map((node) => node.metadata.name).sort()).to.deep.equal(cluster.nodes.map((node) => node.name).sort());
    for (const worker of cluster.nodes) {
      const node = nodes.find((candidate) => candidate.metadata.name === worker.name);
      expect(node?.status.addresses?.find((address) => address.type === 'InternalIP')?.address, worker.name).to.equal(worker.host.ipv4);
      expect(node?.status.nodeInfo?.kubeletVersion, worker.name).to.equal(KUBERNETES_VERSION);
      expect(node?.status.nodeInfo?.containerRuntimeVersion, worker.name).to.match(/^containerd:\/\//);
    }
    const cidrs = nodes.map((node) => node.spec.podCIDR);
    expect(new Set(cidrs).size, `pod CIDRs ${JSON.stringify(cidrs)}`).to.equal(nodes.length);
  });

  it('runs a pod of the local pause image on every node, addressed from that node\'s pod CIDR', async function () {
    this.timeout(240_000);
    const cluster = context.cluster;
    const daemonSet = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'pause', namespace: 'default' },
      spec: {
        selector: { matchLabels: { app: 'pause' } },
        template: {
          metadata: { labels: { app: 'pause' } },
          spec: { containers: [{ name: 'pause', image: PAUSE_IMAGE, imagePullPolicy: 'Never', command: ['/pause', '-P'] }] },
        },
      },
    };
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: JSON.stringify(daemonSet) });
    const pods = await waitFor('a Running pause pod with an IP on every node', async () => {
      const items = (JSON.parse(await cluster.kubectlOk(['get', 'pods', '-n', 'default', '-l', 'app=pause', '-o', 'json'])) as { items: PodObject[] }).items;
      const running = items.filter((pod) => pod.status.phase === 'Running' && pod.status.podIP !== undefined);
      return running.length === cluster.nodes.length ? running : undefined;
    }, 180_000, 1000);
    const nodes = (JSON.parse(await cluster.kubectlOk(['get', 'nodes', '-o', 'json'])) as { items: NodeObject[] }).items;
    for (const pod of pods) {
      const podCidr = nodes.find((node) => node.metadata.name === pod.spec.nodeName)?.spec.podCIDR ?? '';
      expect(inCidr(pod.status.podIP ?? '', podCidr), `${pod.metadata.name} on ${pod.spec.nodeName}: ${pod.status.podIP} in ${podCidr}`).to.equal(true);
    }
    expect(new Set(pods.map((pod) => pod.spec.nodeName)).size).to.equal(cluster.nodes.length);
    // Pod addresses are routed between nodes: node1 reaches the pod on node3.
    const first = cluster.nodes[0];
    const far = pods.find((pod) => pod.spec.nodeName === cluster.nodes[cluster.nodes.length - 1]?.name);
    if (first === undefined || far?.status.podIP === undefined) throw new Error('no node or no far pod');
    await cluster.testbed.exec(first.host.ns, ['ping', '-c', '1', '-W', '2', far.status.podIP]);
  });
});
