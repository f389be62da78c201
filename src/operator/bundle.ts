/**
 * The OperatorHub bundle (registry+v1 format): a ClusterServiceVersion built
 * from the same sources as dist/install.yaml (config/rbac/operator.yaml,
 * config/manager/manager.yaml, config/samples, crds/), the CRDs themselves and
 * metadata/annotations.yaml. `buildBundle` is pure; `loadBundleInputs` reads the tree.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

export const PACKAGE_NAME = 'anchorlb';
export const CHANNEL = 'alpha';

type Json = Record<string, unknown>;

export interface BundleInputs {
  version: string;
  /** crds/ file name → text. */
  crds: Map<string, string>;
  /** Documents of config/rbac/operator.yaml. */
  operatorRbac: Json[];
  /** Documents of config/manager/manager.yaml. */
  manager: Json[];
  /** One object per config/samples/*.yaml document. */
  samples: Json[];
  iconSvg: string;
}

/** Bundle path (relative to bundle/) → file text. */
export type BundleFiles = Map<string, string>;

function yamlDocuments(text: string, file: string): Json[] {
  return parseAllDocuments(text).flatMap((document, index) => {
    const first = document.errors[0];
    if (first) throw new Error(`${file} document ${index}: ${first.message}`);
    const value: unknown = document.toJS();
    return typeof value === 'object' && value !== null ? [value as Json] : [];
  });
}

export async function loadBundleInputs(root: string): Promise<BundleInputs> {
  const packageJson = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  const crds = new Map<string, string>();
  for (const file of (await readdir(join(root, 'crds'))).filter((name) => name.endsWith('.yaml')).sort()) crds.set(file, await readFile(join(root, 'crds', file), 'utf8'));
  const read = async (path: string) => yamlDocuments(await readFile(join(root, path), 'utf8'), path);
  const sampleFiles = (await readdir(join(root, 'config/samples'))).filter((name) => name.endsWith('.yaml')).sort();
  const samples: Json[] = [];
  for (const file of sampleFiles) samples.push(...(await read(`config/samples/${file}`)));
  return {
    version: packageJson.version,
    crds,
    operatorRbac: await read('config/rbac/operator.yaml'),
    manager: await read('config/manager/manager.yaml'),
    samples,
    iconSvg: await readFile(join(root, 'bundle/icon.svg'), 'utf8'),
  };
}

const metadataOf = (object: Json) => (object.metadata ?? {}) as { name?: string; namespace?: string };

function ofKind(objects: Json[], kind: string): Json[] {
  return objects.filter((object) => object.kind === kind);
}

interface Crd {
  metadata: { name: string };
  spec: { group: string; names: { kind: string; plural: string }; versions: { name: string; served: boolean; storage: boolean; schema?: { openAPIV3Schema?: { description?: string } } }[] };
}

function ownedCrd(crd: Crd): Json {
  const storage = crd.spec.versions.find((version) => version.storage) ?? crd.spec.versions[0];
  const kind = crd.spec.names.kind;
  return {
    name: crd.metadata.name,
    version: storage?.name,
    kind,
    // "IPAddressPool" → "IP Address Pool"
    displayName: kind.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2'),
    description: storage?.schema?.openAPIV3Schema?.description ?? kind,
  };
}

/** Strips status and empty namespaces: an alm-example is what a user would create. */
function example(sample: Json): Json {
  const { status: _status, ...rest } = sample;
  return rest;
}

const DESCRIPTION = `AnchorLB gives Services of type LoadBalancer an address on bare-metal clusters and announces it,
by Layer 2 (ARP/NDP, with sub-second failover) or BGP (with graceful restart), like MetalLB and with MetalLB's field names.

Create one **AnchorLB** in the operator's namespace: the operator deploys the controller (address allocation) and the
speakers (one per node) with least-privilege permissions, and reports Available, Progressing and Degraded.
Then describe address pools (**IPAddressPool**) and how to announce them (**L2Advertisement**, **BGPAdvertisement**
with **BGPPeer**). Each speaker writes a **VIPStatus** for every address it actually announces.`;

export function buildBundle(inputs: BundleInputs): BundleFiles {
  const crds = [...inputs.crds.values()].flatMap((text) => yamlDocuments(text, 'crd')) as unknown as Crd[];
  const account = metadataOf(ofKind(inputs.operatorRbac, 'ServiceAccount')[0] ?? {}).name ?? 'anchorlb-operator';
  const rulesOf = (kind: string) => ofKind(inputs.operatorRbac, kind).flatMap((role) => (role.rules ?? []) as Json[]);
  const deployment = ofKind(inputs.manager, 'Deployment')[0];
  if (!deployment) throw new Error('config/manager/manager.yaml has no Deployment');
  const image = ((deployment.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]?.image) ?? '';
  const csv = {
    apiVersion: 'operators.coreos.com/v1alpha1',
    kind: 'ClusterServiceVersion',
    metadata: {
      name: `${PACKAGE_NAME}.v${inputs.version}`,
      namespace: 'placeholder',
      annotations: {
        'alm-examples': JSON.stringify(inputs.samples.map(example), null, 2),
        capabilities: 'Basic Install',
        categories: 'Networking',
        containerImage: image,
        description: 'Bare-metal load balancer for Kubernetes: IP allocation, Layer 2 and BGP announcement, authoritative VIP status',
        'operators.operatorframework.io/suggested-namespace': 'anchorlb-system',
      },
    },
    spec: {
      displayName: 'AnchorLB',
      description: DESCRIPTION,
      version: inputs.version,
      maturity: CHANNEL,
      minKubeVersion: '1.29.0',
      keywords: ['load balancer', 'bare metal', 'BGP', 'ARP', 'MetalLB'],
      provider: { name: 'The AnchorLB authors' },
      maintainers: [{ name: 'The AnchorLB authors', email: 'maintainers@anchorlb.invalid' }],
      links: [{ name: 'Documentation', url: 'https://anchorlb.invalid/docs' }],
      icon: [{ base64data: Buffer.from(inputs.iconSvg).toString('base64'), mediatype: 'image/svg+xml' }],
      // The operator watches the namespace it runs in (its permissions there are a Role).
      installModes: [
        { type: 'OwnNamespace', supported: true },
        { type: 'SingleNamespace', supported: false },
        { type: 'MultiNamespace', supported: false },
        { type: 'AllNamespaces', supported: false },
      ],
      install: {
        strategy: 'deployment',
        spec: {
          deployments: [{ name: metadataOf(deployment).name, label: (deployment.metadata as { labels?: unknown }).labels, spec: deployment.spec }],
          permissions: [{ serviceAccountName: account, rules: rulesOf('Role') }],
          clusterPermissions: [{ serviceAccountName: account, rules: rulesOf('ClusterRole') }],
        },
      },
      customresourcedefinitions: { owned: crds.map(ownedCrd) },
    },
  };
  const files: BundleFiles = new Map();
  files.set(`manifests/${PACKAGE_NAME}.clusterserviceversion.yaml`, stringify(csv, { lineWidth: 0 }));
  for (const [file, text] of inputs.crds) files.set(`manifests/${file}`, text);
  files.set(
    'metadata/annotations.yaml',
    stringify({
      annotations: {
        'operators.operatorframework.io.bundle.mediatype.v1': 'registry+v1',
        'operators.operatorframework.io.bundle.manifests.v1': 'manifests/',
        'operators.operatorframework.io.bundle.metadata.v1': 'metadata/',
        'operators.operatorframework.io.bundle.package.v1': PACKAGE_NAME,
        'operators.operatorframework.io.bundle.channels.v1': CHANNEL,
        'operators.operatorframework.io.bundle.channel.default.v1': CHANNEL,
      },
    }),
  );
  return files;
}
