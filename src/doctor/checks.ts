/**
 * `anchorlb doctor`: what breaks bare-metal load balancers, found in a snapshot
 * of cluster objects before it bites. Pure: the snapshot is collected elsewhere.
 * Every finding names the object and what to change.
 */
import { parse as parseYaml } from 'yaml';
import { formatRange, isParseError, parseAddressRange, parseIP, rangeContains, rangesOverlap, type AddressRange } from '../api/net.ts';
import type { BGPAdvertisement, BGPPeer, IPAddressPool, L2Advertisement } from '../api/index.ts';
import { matchesAnySelector, type LabelSelector } from '../common/labels.ts';

export type CheckName = 'rival-load-balancer' | 'overlapping-ranges' | 'ipvs-strict-arp' | 'status-conflict' | 'peer-without-node' | 'unadvertised-pool' | 'refused-object';

export interface Finding {
  check: CheckName;
  severity: 'error' | 'warning';
  /** `Kind namespace/name` of what is wrong. */
  object: string;
  problem: string;
  fix: string;
}

interface Meta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string | undefined>;
  annotations?: Record<string, string | undefined>;
}

export interface Container {
  image?: string;
  args?: string[];
  command?: string[];
  env?: { name: string; value?: string }[];
}

export interface Workload {
  kind: 'Deployment' | 'DaemonSet';
  metadata: Meta;
  spec?: { template?: { spec?: { containers?: Container[] } } };
}

export interface ConfigMap {
  metadata: Meta;
  data?: Record<string, string | undefined>;
}

export interface Node {
  metadata: Meta;
}

export interface Service {
  metadata: Meta;
  spec?: { type?: string; loadBalancerClass?: string };
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] }; conditions?: { type: string; status: string; message?: string }[] };
}

/** Another implementation's address pool: MetalLB's IPAddressPool or Cilium's CiliumLoadBalancerIPPool. */
export interface MetalLBPool {
  metadata: Meta;
  spec?: { addresses?: string[] };
}
export interface CiliumPool {
  metadata: Meta;
  spec?: { disabled?: boolean; blocks?: { cidr?: string; start?: string; stop?: string }[]; cidrs?: { cidr?: string }[] };
}

export interface DoctorSnapshot {
  /** How anchorlb is set up (from its AnchorLB); undefined when none is installed yet. */
  installation?: { namespace: string; loadBalancerClass?: string; l2: boolean };
  workloads: Workload[];
  /** kube-system's kube-proxy, cilium-config and kubevip ConfigMaps, when present. */
  configMaps: ConfigMap[];
  nodes: Node[];
  services: Service[];
  pools: IPAddressPool[];
  l2Advertisements: L2Advertisement[];
  bgpAdvertisements: BGPAdvertisement[];
  bgpPeers: BGPPeer[];
  metallbPools: MetalLBPool[];
  ciliumPools: CiliumPool[];
}

/** The Service condition anchorlb's controller sets when another controller keeps rewriting the status. */
export const STATUS_CONFLICT_CONDITION = 'anchorlb.io/StatusConflict';
const KUBE_VIP_DEFAULT_CLASS = 'kube-vip.io/kube-vip-class';

function ref(kind: string, metadata: Meta): string {
  return `${kind} ${metadata.namespace ? `${metadata.namespace}/` : ''}${metadata.name ?? ''}`;
}

function containersOf(workload: Workload): Container[] {
  return workload.spec?.template?.spec?.containers ?? [];
}

function envOf(container: Container, name: string): string | undefined {
  return container.env?.find((entry) => entry.name === name)?.value;
}

/** `--name=value` or `--name value` among the container's command and args; `true` for a bare flag. */
function flagOf(container: Container, name: string): string | undefined {
  const words = [...(container.command ?? []), ...(container.args ?? [])];
  for (const [index, word] of words.entries()) {
    if (word.startsWith(`--${name}=`)) return word.slice(name.length + 3);
    if (word === `--${name}`) {
      const next = words[index + 1];
      return next === undefined || next.startsWith('--') ? 'true' : next;
    }
  }
  return undefined;
}

/** Which Services a rival handles: those without a class (undefined) or those of one class. */
interface Rival {
  object: string;
  what: string;
  handlesClass: string | undefined;
  fix: string;
}

function kubeVipRivals(workloads: Workload[]): Rival[] {
  return workloads.flatMap((workload) =>
    containersOf(workload)
      .filter((container) => container.image?.includes('kube-vip/kube-vip') && !container.image.includes('cloud-provider'))
      .filter((container) => envOf(container, 'svc_enable') === 'true' || flagOf(container, 'services') === 'true')
      .map((container) => {
        const classOnly = envOf(container, 'lb_class_only') === 'true' || flagOf(container, 'lbClassOnly') === 'true';
        const className = envOf(container, 'lb_class_name') ?? flagOf(container, 'lbClassName') ?? KUBE_VIP_DEFAULT_CLASS;
        return {
          object: ref(workload.kind, workload.metadata),
          what: `kube-vip with Service handling on (svc_enable)${classOnly ? ` for class ${className}` : ''}`,
          handlesClass: classOnly ? className : undefined,
          fix: 'set lb_class_only=true on kube-vip (it then handles only its own class), or svc_enable=false if kube-vip should only hold the control-plane address',
        };
      }),
  );
}

function metallbRivals(workloads: Workload[]): Rival[] {
  return workloads.flatMap((workload) =>
    containersOf(workload)
      .filter((container) => /metallb\/(controller|speaker)/.test(container.image ?? ''))
      .map((container) => {
        const lbClass = flagOf(container, 'lb-class');
        return {
          object: ref(workload.kind, workload.metadata),
          what: `MetalLB${lbClass ? ` for class ${lbClass}` : ''}`,
          handlesClass: lbClass,
          fix: 'migrate its configuration (anchorlb convert) and uninstall MetalLB, or run it with --lb-class=<its own class> on controller and speakers',
        };
      }),
  );
}

/** The components a k3s server was started without: `--disable=a,b` or `--disable a` in its node-args annotation (a JSON list). */
function k3sDisables(nodeArgs: string): string[] {
  let args: unknown;
  try {
    args = JSON.parse(nodeArgs);
  } catch {
    return [];
  }
  if (!Array.isArray(args)) return [];
  const words = args.map(String);
  return words.flatMap((word, index) => {
    if (word.startsWith('--disable=')) return word.slice('--disable='.length).split(',');
    if (word === '--disable') return (words[index + 1] ?? '').split(',');
    return [];
  });
}

function k3sServiceLbRivals(workloads: Workload[], nodes: Node[]): Rival[] {
  const svclb = workloads.filter((workload) => workload.kind === 'DaemonSet' && (workload.metadata.name?.startsWith('svclb-') || workload.metadata.labels?.['svccontroller.k3s.cattle.io/svcname'] !== undefined));
  const servers = nodes.filter((node) => node.metadata.annotations?.['k3s.io/node-args'] !== undefined);
  const disabled = servers.some((node) => k3sDisables(node.metadata.annotations?.['k3s.io/node-args'] ?? '[]').includes('servicelb'));
  const fix = 'start the k3s servers with --disable=servicelb';
  if (svclb[0]) return [{ object: ref('DaemonSet', svclb[0].metadata), what: 'k3s ServiceLB (klipper-lb)', handlesClass: undefined, fix }];
  if (servers[0] && !disabled) return [{ object: ref('Node', servers[0].metadata), what: 'k3s ServiceLB (enabled on this k3s server)', handlesClass: undefined, fix }];
  return [];
}

function ciliumConfig(configMaps: ConfigMap[]): ConfigMap | undefined {
  return configMaps.find((configMap) => configMap.metadata.name === 'cilium-config');
}

function ciliumRivals(snapshot: DoctorSnapshot): Rival[] {
  // LB-IPAM sleeps until a pool exists.
  const activePools = snapshot.ciliumPools.filter((pool) => pool.spec?.disabled !== true);
  const config = ciliumConfig(snapshot.configMaps);
  if (activePools.length === 0 || config?.data?.['enable-lb-ipam'] === 'false' || config?.data?.['lbipam-require-lb-class'] === 'true') return [];
  return [
    {
      object: ref('CiliumLoadBalancerIPPool', activePools[0]?.metadata ?? {}),
      what: 'Cilium LB-IPAM (a pool exists and requireLBClass is off)',
      handlesClass: undefined,
      fix: 'set lbipam-require-lb-class: "true" in the cilium-config ConfigMap (Helm lbIPAM.requireLBClass=true), or remove the CiliumLoadBalancerIPPools',
    },
  ];
}

function checkRivals(snapshot: DoctorSnapshot): Finding[] {
  const ours = snapshot.installation?.loadBalancerClass;
  const rivals = [...kubeVipRivals(snapshot.workloads), ...k3sServiceLbRivals(snapshot.workloads, snapshot.nodes), ...metallbRivals(snapshot.workloads), ...ciliumRivals(snapshot)];
  // One finding per workload, however many of its containers match.
  const conflicting = new Map(rivals.filter((rival) => rival.handlesClass === ours).map((rival) => [rival.object, rival]));
  return [...conflicting.values()].map((rival) => ({
      check: 'rival-load-balancer',
      severity: 'error',
      object: rival.object,
      problem: `${rival.what} acts on the same Services as anchorlb (${ours ? `class ${ours}` : 'Services without a loadBalancerClass'}): both write status.loadBalancer and both answer for the addresses`,
    fix: `${rival.fix}; or give anchorlb a loadBalancerClass of its own (AnchorLB spec.loadBalancerClass)`,
  }));
}

interface OwnedRange {
  owner: string;
  text: string;
  range: AddressRange;
}

function parsedRanges(owner: string, texts: (string | undefined)[]): OwnedRange[] {
  return texts.flatMap((text) => {
    if (!text) return [];
    const range = parseAddressRange(text);
    return isParseError(range) ? [] : [{ owner, text, range }];
  });
}

/** kube-vip-cloud-provider's ranges: `range-global`, `cidr-global`, `range-<ns>`, `cidr-<ns>`, comma-separated. */
function kubeVipRanges(configMaps: ConfigMap[]): OwnedRange[] {
  const config = configMaps.find((configMap) => configMap.metadata.name === 'kubevip');
  return Object.entries(config?.data ?? {})
    .filter(([key]) => key.startsWith('range-') || key.startsWith('cidr-'))
    .flatMap(([key, value]) => parsedRanges(`ConfigMap kube-system/kubevip (${key})`, (value ?? '').split(',').map((part) => part.trim())));
}

function checkOverlaps(snapshot: DoctorSnapshot): Finding[] {
  const ours = snapshot.pools.flatMap((pool) => parsedRanges(ref('IPAddressPool', pool.metadata), pool.spec?.addresses ?? []));
  const theirs = [
    ...snapshot.metallbPools.flatMap((pool) => parsedRanges(ref('IPAddressPool.metallb.io', pool.metadata), pool.spec?.addresses ?? [])),
    ...snapshot.ciliumPools
      .filter((pool) => pool.spec?.disabled !== true)
      .flatMap((pool) =>
        parsedRanges(ref('CiliumLoadBalancerIPPool', pool.metadata), [
          ...(pool.spec?.blocks ?? []).map((block) => block.cidr ?? (block.start ? `${block.start}-${block.stop ?? block.start}` : undefined)),
          ...(pool.spec?.cidrs ?? []).map((block) => block.cidr),
        ]),
      ),
    ...kubeVipRanges(snapshot.configMaps),
  ];
  return ours.flatMap((mine) =>
    theirs
      .filter((other) => rangesOverlap(mine.range, other.range))
      .map((other) => ({
        check: 'overlapping-ranges' as const,
        severity: 'error' as const,
        object: mine.owner,
        problem: `${mine.text} overlaps ${other.text} of ${other.owner}: two controllers can hand out the same address (${formatRange(intersection(mine.range, other.range))})`,
        fix: `shrink one of the ranges so they do not meet, or remove ${other.owner} if that controller is gone`,
      })),
  );
}

function intersection(a: AddressRange, b: AddressRange): AddressRange {
  return { family: a.family, first: a.first > b.first ? a.first : b.first, last: a.last < b.last ? a.last : b.last };
}

function checkKubeProxy(snapshot: DoctorSnapshot): Finding[] {
  if (snapshot.installation && !snapshot.installation.l2) return [];
  const configMap = snapshot.configMaps.find((candidate) => candidate.metadata.name === 'kube-proxy');
  const text = configMap?.data?.['config.conf'];
  if (!configMap || !text) return [];
  let config: { mode?: unknown; ipvs?: { strictARP?: unknown } } | undefined;
  try {
    config = parseYaml(text) as typeof config;
  } catch {
    return [];
  }
  if (config?.mode !== 'ipvs' || config.ipvs?.strictARP === true) return [];
  return [
    {
      check: 'ipvs-strict-arp',
      severity: 'error',
      object: ref('ConfigMap', configMap.metadata),
      problem: 'kube-proxy runs in IPVS mode without strictARP: every node answers ARP for every LoadBalancer address (kube-ipvs0), so Layer 2 failover cannot move them',
      fix: 'set ipvs.strictARP: true in config.conf of this ConfigMap and restart the kube-proxy pods',
    },
  ];
}

function handledByUs(service: Service, snapshot: DoctorSnapshot): boolean {
  return service.spec?.type === 'LoadBalancer' && service.spec.loadBalancerClass === snapshot.installation?.loadBalancerClass;
}

function checkStatusConflicts(snapshot: DoctorSnapshot): Finding[] {
  const ranges = snapshot.pools.flatMap((pool) => parsedRanges('', pool.spec?.addresses ?? []).map((owned) => owned.range));
  return snapshot.services.flatMap((service): Finding[] => {
    const object = ref('Service', service.metadata);
    const conflict = service.status?.conditions?.find((condition) => condition.type === STATUS_CONFLICT_CONDITION && condition.status === 'True');
    if (conflict) {
      return [
        {
          check: 'status-conflict',
          severity: 'error',
          object,
          problem: conflict.message ?? 'another controller keeps rewriting status.loadBalancer',
          fix: 'find the other load balancer (see rival-load-balancer findings) and make it leave this Service alone, e.g. by loadBalancerClass',
        },
      ];
    }
    if (!snapshot.installation || !handledByUs(service, snapshot) || ranges.length === 0) return [];
    const foreign = (service.status?.loadBalancer?.ingress ?? [])
      .map((entry) => entry.ip)
      .filter((ip): ip is string => ip !== undefined)
      .filter((ip) => {
        const parsed = parseIP(ip);
        return !isParseError(parsed) && !ranges.some((range) => rangeContains(range, parsed));
      });
    if (foreign.length === 0) return [];
    return [
      {
        check: 'status-conflict',
        severity: 'warning',
        object,
        problem: `status.loadBalancer has ${foreign.join(', ')}, which no anchorlb pool holds: another controller wrote it`,
        fix: 'find the other load balancer (see rival-load-balancer findings), or add the address to an IPAddressPool if anchorlb should own it',
      },
    ];
  });
}

function checkPeers(snapshot: DoctorSnapshot): Finding[] {
  if (snapshot.nodes.length === 0) return [];
  return snapshot.bgpPeers
    .filter((peer) => !snapshot.nodes.some((node) => matchesAnySelector(peer.spec?.nodeSelectors as LabelSelector[] | undefined, definedLabels(node.metadata.labels))))
    .map((peer) => ({
      check: 'peer-without-node',
      severity: 'warning',
      object: ref('BGPPeer', peer.metadata),
      problem: `no node matches spec.nodeSelectors ${JSON.stringify(peer.spec?.nodeSelectors ?? [])}: no speaker will open this session`,
      fix: 'correct spec.nodeSelectors, or label the nodes that should peer with this router',
    }));
}

function definedLabels(labels: Record<string, string | undefined> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(labels ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

function advertises(advertisement: L2Advertisement | BGPAdvertisement, pool: IPAddressPool): boolean {
  const names = advertisement.spec?.ipAddressPools ?? [];
  const selectors = (advertisement.spec?.ipAddressPoolSelectors ?? []) as LabelSelector[];
  if (names.length === 0 && selectors.length === 0) return true;
  return names.includes(pool.metadata.name ?? '') || (selectors.length > 0 && matchesAnySelector(selectors, definedLabels(pool.metadata.labels)));
}

function checkUnadvertisedPools(snapshot: DoctorSnapshot): Finding[] {
  const advertisements = [...snapshot.l2Advertisements, ...snapshot.bgpAdvertisements];
  return snapshot.pools
    .filter((pool) => !advertisements.some((advertisement) => advertises(advertisement, pool)))
    .map((pool) => ({
      check: 'unadvertised-pool',
      severity: 'warning',
      object: ref('IPAddressPool', pool.metadata),
      problem: 'no L2Advertisement or BGPAdvertisement selects this pool: its addresses are assigned but nobody can reach them',
      fix: `add an L2Advertisement or BGPAdvertisement with ipAddressPools: [${pool.metadata.name ?? ''}] (or a selector matching its labels)`,
    }));
}

interface Conditioned {
  metadata: Meta;
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/** Conditions that say an object's spec is not (or not wholly) in force. */
const REFUSING = new Set(['Refused', 'Stale']);

/** What the controller and speakers wrote on our objects: refused or stale specs. */
function checkRefusedObjects(snapshot: DoctorSnapshot): Finding[] {
  const kinds: Array<[string, readonly Conditioned[]]> = [
    ['IPAddressPool', snapshot.pools],
    ['L2Advertisement', snapshot.l2Advertisements],
    ['BGPAdvertisement', snapshot.bgpAdvertisements],
    ['BGPPeer', snapshot.bgpPeers],
  ];
  return kinds.flatMap(([kind, objects]) =>
    objects.flatMap((object) => {
      const conditions = object.status?.conditions ?? [];
      const stale = conditions.find((c) => c.type === 'Stale' && c.status === 'True');
      const refused = conditions.find((c) => REFUSING.has(c.type) && c.status === 'True');
      const shown = stale ?? refused;
      if (!shown) return [];
      return [
        {
          check: 'refused-object' as const,
          severity: stale ? ('warning' as const) : ('error' as const),
          object: ref(kind, object.metadata),
          problem: `${shown.type} (${shown.reason ?? 'no reason'}): ${shown.message ?? ''}`,
          fix: stale ? 'correct the field named (the last accepted spec serves until then)' : 'correct the field named; until then this object is not in force',
        },
      ];
    }),
  );
}

export function diagnose(snapshot: DoctorSnapshot): Finding[] {
  return [
    ...checkRivals(snapshot),
    ...checkOverlaps(snapshot),
    ...checkKubeProxy(snapshot),
    ...checkStatusConflicts(snapshot),
    ...checkPeers(snapshot),
    ...checkUnadvertisedPools(snapshot),
    ...checkRefusedObjects(snapshot),
  ];
}

export function formatFindings(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'No problems found.\n';
  return findings.map((finding) => `${finding.severity.toUpperCase()} [${finding.check}] ${finding.object}\n  ${finding.problem}\n  fix: ${finding.fix}\n`).join('\n');
}
