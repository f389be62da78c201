/**
 * One worker node of the real cluster, in its testbed namespace: its own containerd
 * (Debian's, with runc and the cgroupfs driver), kubelet (own root directory, cgroup root and
 * certificate) and kube-proxy (iptables mode), and a CNI bridge with host-local addresses
 * from the pod CIDR the controller-manager gives the Node. Facts behind the settings:
 * ../shared/reference/container-image.md.
 *
 * Several kubelets share one kernel: each has its own cgroup root (/anchorlb-PREFIX-NAME in
 * every cgroup v1 hierarchy), state directories under the run's work directory, its own
 * network namespace (so its ports) and its own mount namespace, shared by the node's
 * containerd, kubelet and kube-proxy: the kubelet's volume mounts must be seen by containerd,
 * and nothing the node mounts is seen outside it. `ip netns exec` alone would not do: it
 * gives every process a mount namespace of its own, with a fresh /sys and so no cgroups.
 * In that namespace the kernel settings a kubelet insists on (it would write vm.* and
 * kernel.* machine-wide) read as the kubelet wants them, so the machine's stay as they are.
 * Containers are killed at the end through the node's cgroups: everything in them was
 * started by this node's containerd.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { run, waitFor, type Host } from '../testbed.ts';
import { PAUSE_IMAGE, writePauseImage } from './images.ts';
import { CLUSTER_CIDR, tail, type RealCluster } from './index.ts';

const CGROUP_V1 = '/sys/fs/cgroup';

/** The values kubelet's container manager sets unless they already hold (pkg/kubelet/cm setupKernelTunables). */
const KUBELET_KERNEL_SETTINGS: ReadonlyArray<[string, number]> = [
  ['vm/overcommit_memory', 1],
  ['vm/panic_on_oom', 0],
  ['kernel/panic', 10],
  ['kernel/panic_on_oops', 1],
  ['kernel/keys/root_maxkeys', 1000000],
  ['kernel/keys/root_maxbytes', 25000000],
];

interface NodeStatus {
  spec?: { podCIDR?: string };
  status?: { conditions?: Array<{ type: string; status: string; message?: string }> };
}

export class WorkerNode {
  readonly dir: string;
  readonly cgroupRoot: string;
  private readonly children: ChildProcess[] = [];
  private podCidr: string | undefined;

  constructor(
    private readonly cluster: RealCluster,
    readonly name: string,
    readonly host: Host,
    readonly index: number,
  ) {
    this.dir = join(cluster.workDir, 'nodes', name);
    this.cgroupRoot = `/anchorlb-${cluster.testbed.prefix}-${name}`;
  }

  /** The node's mount namespace, kept open by a bind mount of its nsfs file. */
  get mountNamespace(): string {
    return join(this.dir, 'ns', 'mnt');
  }

  /** Starts `argv` as the node's component `component`, in the node's network and mount namespaces. */
  private async spawn(component: string, argv: readonly string[]): Promise<void> {
    this.children.push(await this.cluster.spawn(`${this.name}-${component}`, this.host.ns, argv, this.mountNamespace));
  }

  get containerdSocket(): string {
    return join(this.dir, 'containerd', 'containerd.sock');
  }

  /** `ctr` against this node's containerd, in the k8s.io namespace (the CRI's). */
  ctr(args: readonly string[]): Promise<{ stdout: string }> {
    return run(['ctr', '--address', this.containerdSocket, '--namespace', 'k8s.io', ...args], { timeoutMs: 120_000 });
  }

  /**
   * Imports the OCI archive `archive` into this node's containerd (the CRI's namespace) as
   * `name`, the fully qualified reference a kubelet asks for. An archive whose index names it
   * only by `org.opencontainers.image.ref.name` (as `make image` writes it) keeps that name
   * when it begins with the repository given as base name.
   */
  async importImage(archive: string, name: string): Promise<void> {
    const repository = name.slice(0, name.lastIndexOf(':'));
    await this.ctr(['images', 'import', '--base-name', repository, archive]);
    const names = (await this.ctr(['images', 'list', '--quiet'])).stdout.split('\n');
    if (!names.includes(name)) throw new Error(`${this.name}: importing ${archive} gave the images ${JSON.stringify(names.filter((line) => line !== ''))}, not ${name}`);
  }

  /** Starts containerd (and imports the pause image), the kubelet and kube-proxy. */
  async start(): Promise<void> {
    const say = (line: string) => this.cluster.say(`${this.name} (${this.host.ns}, ${this.host.ipv4}): ${line}`);
    await mkdir(join(this.dir, 'cni'), { recursive: true });
    // A default route (the testbed's router), as real hosts have: without one a host-network
    // pod cannot reach a Service address (the route lookup fails, ENETUNREACH, before
    // kube-proxy's DNAT applies), so no speaker reaches the API server.
    await run(['ip', '-n', this.host.ns, 'route', 'replace', 'default', 'via', this.cluster.testbed.router.ipv4]);
    await this.createCgroupRoot();
    await this.createMountNamespace();

    say('containerd');
    const config = join(this.dir, 'containerd.toml');
    await writeFile(config, this.containerdConfig());
    await this.spawn('containerd', ['containerd', '--config', config]);
    await this.cluster.waitFor(`containerd on ${this.name}`, async () => existsSync(this.containerdSocket) && (await this.ctr(['version']).then(() => true, () => false)), 60_000);
    const archive = join(this.cluster.workDir, 'pause.oci.tar');
    if (!existsSync(archive)) await writePauseImage(archive);
    await this.importImage(archive, PAUSE_IMAGE);

    say('kubelet and kube-proxy');
    const pki = this.cluster.pki;
    const kubeletCredential = await pki.issue(`kubelet-${this.name}`, `system:node:${this.name}`, ['system:nodes']);
    const kubeletKubeconfig = await pki.writeKubeconfig(join(this.dir, 'kubelet.kubeconfig'), this.cluster.apiServerUrl, `system:node:${this.name}`, kubeletCredential);
    const kubeletConfig = join(this.dir, 'kubelet.yaml');
    await writeFile(kubeletConfig, stringify(this.kubeletConfiguration()));
    await this.spawn('kubelet', [
      join(this.cluster.bin, 'kubelet'),
      `--config=${kubeletConfig}`,
      `--kubeconfig=${kubeletKubeconfig}`,
      `--root-dir=${join(this.dir, 'kubelet')}`,
      `--cert-dir=${join(this.dir, 'kubelet-pki')}`,
      `--hostname-override=${this.name}`,
      `--node-ip=${this.host.ipv4}`,
      '--v=1',
    ]);
    const proxyCredential = await pki.issue(`kube-proxy-${this.name}`, 'system:kube-proxy');
    const proxyKubeconfig = await pki.writeKubeconfig(join(this.dir, 'kube-proxy.kubeconfig'), this.cluster.apiServerUrl, 'system:kube-proxy', proxyCredential);
    const proxyConfig = join(this.dir, 'kube-proxy.yaml');
    await writeFile(proxyConfig, stringify(this.kubeProxyConfiguration(proxyKubeconfig)));
    await this.spawn('kube-proxy', [join(this.cluster.bin, 'kube-proxy'), `--config=${proxyConfig}`]);
  }

  /**
   * Waits for the Node's pod CIDR, writes the CNI configuration for it, routes the other
   * nodes' pod CIDRs through their node addresses, and waits until the Node is Ready.
   */
  async waitReady(all: readonly WorkerNode[]): Promise<void> {
    const node = () => this.cluster.kubectlOk(['get', 'node', this.name, '-o', 'json']).then((text) => JSON.parse(text) as NodeStatus);
    this.podCidr = await this.cluster.waitFor(`${this.name} to register and get a pod CIDR`, async () => (await node().catch(() => undefined))?.spec?.podCIDR, 180_000, 500);
    await writeFile(join(this.dir, 'cni', '10-bridge.conflist'), JSON.stringify(this.cniConfig(this.podCidr), null, 2));
    for (const other of all) {
      if (other === this || other.podCidr === undefined) continue;
      await run(['ip', '-n', this.host.ns, 'route', 'replace', other.podCidr, 'via', other.host.ipv4]);
      await run(['ip', '-n', other.host.ns, 'route', 'replace', this.podCidr, 'via', this.host.ipv4]);
    }
    await this.cluster.waitFor(`${this.name} to be Ready`, async () => {
      const ready = (await node()).status?.conditions?.find((condition) => condition.type === 'Ready');
      return ready?.status === 'True';
    }, 180_000, 500).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\nlast kubelet lines:\n${tail(this.cluster.logOf(`${this.name}-kubelet`))}`);
    });
    this.cluster.say(`${this.name} Ready, pods from ${this.podCidr}`);
  }

  /** A mount namespace for the node (see the top of this file), with the kubelet's kernel settings in it. */
  private async createMountNamespace(): Promise<void> {
    const dir = join(this.dir, 'ns');
    await mkdir(dir, { recursive: true });
    // The nsfs bind mount that keeps the namespace must sit on a private mount.
    await run(['mount', '--bind', dir, dir]);
    await run(['mount', '--make-private', dir]);
    await writeFile(this.mountNamespace, '');
    // slave: the machine's mounts show inside; the node's own stay inside.
    await run(['unshare', `--mount=${this.mountNamespace}`, '--propagation', 'slave', 'true']);
    for (const [setting, value] of KUBELET_KERNEL_SETTINGS) {
      const file = join(dir, setting.replaceAll('/', '.'));
      await writeFile(file, `${value}\n`);
      await run(['nsenter', `--mount=${this.mountNamespace}`, '--', 'mount', '--bind', '-o', 'ro', file, `/proc/sys/${setting}`]);
    }
  }

  /** Kills the kubelet, kube-proxy, every container of this node (through its cgroups) and containerd. */
  async stop(): Promise<void> {
    const [containerd, ...others] = this.children;
    for (const child of others.reverse()) await this.cluster.terminate(child);
    await this.killCgroupRoot().catch((error: unknown) => this.cluster.say(`${this.name}: ${(error as Error).message}`));
    if (containerd !== undefined) await this.cluster.terminate(containerd);
    await this.unmountUnder(this.dir);
    await this.removeCgroupRoot();
  }

  private containerdConfig(): string {
    const cri = 'plugins."io.containerd.grpc.v1.cri"';
    return [
      'version = 2',
      `root = "${join(this.dir, 'containerd', 'root')}"`,
      `state = "${join(this.dir, 'containerd', 'state')}"`,
      // The opt plugin would install into /opt; the others are snapshotters this machine lacks.
      'disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]',
      '[grpc]',
      `  address = "${this.containerdSocket}"`,
      '[ttrpc]',
      `  address = "${this.containerdSocket}.ttrpc"`,
      '[metrics]',
      '  address = ""',
      `[${cri}]`,
      `  sandbox_image = "${PAUSE_IMAGE}"`,
      // Lowering oom_score_adj needs CAP_SYS_RESOURCE, which root lacks here (every sandbox fails without).
      '  restrict_oom_score_adj = true',
      // Pod network namespaces under this node's state, not /run/netns: removed with it.
      '  netns_mounts_under_state_dir = true',
      '  stream_server_address = "127.0.0.1"',
      '  stream_server_port = "0"',
      `[${cri}.containerd]`,
      '  snapshotter = "overlayfs"',
      '  default_runtime_name = "runc"',
      `[${cri}.containerd.runtimes.runc]`,
      '  runtime_type = "io.containerd.runc.v2"',
      `[${cri}.containerd.runtimes.runc.options]`,
      '  BinaryName = "/usr/sbin/runc"',
      '  SystemdCgroup = false',
      `[${cri}.cni]`,
      '  bin_dir = "/usr/lib/cni"',
      `  conf_dir = "${join(this.dir, 'cni')}"`,
      '',
    ].join('\n');
  }

  private kubeletConfiguration(): Record<string, unknown> {
    return {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      address: this.host.ipv4,
      port: 10250,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: this.cluster.pki.caCert } },
      authorization: { mode: 'Webhook' },
      containerRuntimeEndpoint: `unix://${this.containerdSocket}`,
      cgroupDriver: 'cgroupfs',
      cgroupRoot: this.cgroupRoot,
      cgroupsPerQOS: true,
      // This machine's cgroups are v1 (hybrid); Kubernetes 1.35+ refuses them unless told.
      failCgroupV1: false,
      failSwapOn: false,
      clusterDomain: 'cluster.local',
      resolvConf: '/etc/resolv.conf',
      // Per node: a kubelet removes the log directories of pods it does not know.
      podLogsDir: join(this.dir, 'pod-logs'),
      rotateCertificates: false,
      serializeImagePulls: false,
      // A shared test machine: evict only when it is really short.
      evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      maxPods: 50,
    };
  }

  private kubeProxyConfiguration(kubeconfig: string): Record<string, unknown> {
    return {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig },
      mode: 'iptables',
      clusterCIDR: CLUSTER_CIDR,
      hostnameOverride: this.name,
      bindAddress: this.host.ipv4,
      metricsBindAddress: '127.0.0.1:10249',
      healthzBindAddress: '127.0.0.1:10256',
      // Leave the kernel's (machine-wide) conntrack table size alone.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    };
  }

  private cniConfig(podCidr: string): Record<string, unknown> {
    return {
      cniVersion: '1.0.0',
      name: 'realcluster',
      plugins: [
        { type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: 'host-local', ranges: [[{ subnet: podCidr }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: join(this.dir, 'cni-ipam') } },
        { type: 'portmap', capabilities: { portMappings: true } },
        { type: 'loopback' },
      ],
    };
  }

  /** The cgroup hierarchies mounted here: the v1 ones, and with `unified` the cgroup2 one (runc puts containers there too). */
  private hierarchies(unified = false): string[] {
    return readdirSync(CGROUP_V1).filter((name) => (unified || name !== 'unified') && existsSync(join(CGROUP_V1, name, 'cgroup.procs')));
  }

  private async createCgroupRoot(): Promise<void> {
    for (const hierarchy of this.hierarchies()) {
      const path = join(CGROUP_V1, hierarchy, this.cgroupRoot);
      await mkdir(path, { recursive: true });
      if (hierarchy === 'cpuset') {
        // A new cpuset has no CPUs and no memory nodes until given its parent's.
        for (const file of ['cpuset.cpus', 'cpuset.mems']) await writeFile(join(path, file), await readFile(join(CGROUP_V1, hierarchy, file), 'utf8'));
      }
    }
  }

  /** Every process in this node's cgroups (containers and their shims' children), SIGKILLed. */
  private async killCgroupRoot(): Promise<void> {
    const root = join(CGROUP_V1, 'pids', this.cgroupRoot);
    const pids = () => cgroupTree(root).flatMap((dir) => readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter((line) => /^\d+$/.test(line)));
    await waitFor(`the containers of ${this.name} to be gone`, () => {
      const left = pids();
      for (const pid of left) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      return left.length === 0;
    }, 20_000, 100);
  }

  private async removeCgroupRoot(): Promise<void> {
    for (const hierarchy of this.hierarchies(true)) {
      for (const dir of cgroupTree(join(CGROUP_V1, hierarchy, this.cgroupRoot)).reverse()) await rmdir(dir).catch(() => undefined);
    }
  }

  /** Unmounts what is mounted under `dir` here (the node's mount namespace and its anchor), deepest first. */
  private async unmountUnder(dir: string): Promise<void> {
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[4] ?? '')
      .filter((point) => point === dir || point.startsWith(`${dir}/`))
      .sort((a, b) => b.length - a.length);
    for (const point of mounts) await run(['umount', '-l', point], { allowFailure: true });
  }
}

/** A cgroup directory and all below it, parents first. */
function cgroupTree(root: string): string[] {
  if (!existsSync(root)) return [];
  const dirs = [root];
  for (let index = 0; index < dirs.length; index++) {
    const dir = dirs[index] as string;
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) dirs.push(join(dir, entry.name));
  }
  return dirs;
}
