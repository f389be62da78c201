/** Reads the cluster objects the doctor's checks look at. */
import type { KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURALS, VERSION, type AnchorLB } from '../api/index.ts';
import { KubeHttpError, KubeRest } from '../kube/rest.ts';
import type { DoctorSnapshot, Workload } from './checks.ts';

export interface CollectResult {
  snapshot: DoctorSnapshot;
  /** What could not be read (no such API, or not allowed): the checks that need it saw nothing. */
  unreadable: string[];
}

/** Read by name, so a caller needs no right to list kube-system's ConfigMaps. */
const KUBE_SYSTEM_CONFIGMAPS = ['kube-proxy', 'cilium-config', 'kubevip'];

export async function collectSnapshot(kubeConfig: KubeConfig, namespace: string): Promise<CollectResult> {
  const rest = new KubeRest(kubeConfig);
  const unreadable: string[] = [];
  // A missing API or object (404: MetalLB or Cilium not installed) is simply absent; a refusal
  // is reported; an unreachable server is an error (nothing could be checked).
  const read = async <T>(path: string): Promise<T | undefined> => {
    try {
      return await rest.getJson<T>(path);
    } catch (error) {
      if (!(error instanceof KubeHttpError)) throw error;
      if (error.statusCode !== 404) unreadable.push(`${path}: ${error.message}`);
      return undefined;
    }
  };
  const list = async <T>(path: string): Promise<T[]> => (await read<{ items?: T[] }>(path))?.items ?? [];
  const anchorlbPath = (plural: string) => `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${plural}`;
  const withKind = (kind: Workload['kind']) => (items: Omit<Workload, 'kind'>[]) => items.map((item) => ({ ...item, kind }));
  const [deployments, daemonSets, configMaps, anchorlbs] = await Promise.all([
    list<Omit<Workload, 'kind'>>('/apis/apps/v1/deployments').then(withKind('Deployment')),
    list<Omit<Workload, 'kind'>>('/apis/apps/v1/daemonsets').then(withKind('DaemonSet')),
    Promise.all(KUBE_SYSTEM_CONFIGMAPS.map((name) => read<DoctorSnapshot['configMaps'][number]>(`/api/v1/namespaces/kube-system/configmaps/${name}`))).then((found) =>
      found.filter((configMap) => configMap !== undefined),
    ),
    list<AnchorLB>(anchorlbPath(PLURALS.AnchorLB)),
  ]);
  const installation = anchorlbs[0];
  const snapshot: DoctorSnapshot = {
    installation: installation && {
      namespace,
      loadBalancerClass: installation.spec?.loadBalancerClass || undefined,
      l2: installation.spec?.modes?.l2 !== false,
    },
    workloads: [...deployments, ...daemonSets],
    configMaps,
    nodes: await list('/api/v1/nodes'),
    services: await list('/api/v1/services'),
    pools: await list(anchorlbPath(PLURALS.IPAddressPool)),
    l2Advertisements: await list(anchorlbPath(PLURALS.L2Advertisement)),
    bgpAdvertisements: await list(anchorlbPath(PLURALS.BGPAdvertisement)),
    bgpPeers: await list(anchorlbPath(PLURALS.BGPPeer)),
    metallbPools: await list('/apis/metallb.io/v1beta1/ipaddresspools'),
    // Newer Cilium releases serve cilium.io/v2, older ones only v2alpha1.
    ciliumPools: await list('/apis/cilium.io/v2/ciliumloadbalancerippools'),
  };
  if (snapshot.ciliumPools.length === 0) snapshot.ciliumPools = await list('/apis/cilium.io/v2alpha1/ciliumloadbalancerippools');
  return { snapshot, unreadable };
}
