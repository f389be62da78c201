/**
 * `make cluster`: a real Kubernetes cluster on this machine (test/support/realcluster): etcd,
 * kube-apiserver, kube-controller-manager, kube-scheduler and three worker nodes (containerd,
 * kubelet, kube-proxy) in network namespaces; runs until Ctrl-C, then tears everything down.
 *
 *   node --import tsx scripts/cluster.ts [--nodes N]
 */
import { RealCluster } from '../test/support/realcluster/index.ts';
import { KUBECTL_PATH } from '../test/support/apiserver.ts';

const argv = process.argv.slice(2);
let nodes = 3;
for (let index = 0; index < argv.length; index++) {
  const argument = argv[index];
  if (argument === '--nodes') nodes = Number(argv[++index]);
  else {
    console.error(`usage: cluster.ts [--nodes 0..3] (got ${JSON.stringify(argument)})`);
    process.exit(2);
  }
}

const say = (line: string) => console.log(`cluster: ${line}`);
const cluster = await RealCluster.start({ nodes, say });
const keepLogs = process.env.KEEP_LOGS === '1';
console.log(`
The cluster runs. From this machine:
  ${KUBECTL_PATH} --kubeconfig ${cluster.kubeconfigPath} get nodes -o wide
Inside its namespaces (${cluster.testbed.prefix}-*), e.g. the client at ${cluster.testbed.client?.ipv4 ?? '(none)'}:
  ip netns exec ${cluster.testbed.client?.ns ?? cluster.controlPlane.ns} ${KUBECTL_PATH} --kubeconfig ${cluster.innerKubeconfigPath} get pods -A
Logs: ${cluster.logDir}  (kept after Ctrl-C with KEEP_LOGS=1)
Ctrl-C tears it down.`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  say('tearing down');
  cluster.stop(keepLogs).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`cluster: teardown failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
