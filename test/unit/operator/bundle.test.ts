/** bundle/ against the registry+v1 bundle format's rules, and against its sources. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse } from 'yaml';
import { validateObject } from '../../../src/api/index.ts';
import { PACKAGE_NAME, buildBundle, loadBundleInputs } from '../../../src/operator/bundle.ts';
import { REPO_ROOT } from '../../support/apiserver.ts';

const BUNDLE = join(REPO_ROOT, 'bundle');
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
const INSTALL_MODES = ['OwnNamespace', 'SingleNamespace', 'MultiNamespace', 'AllNamespaces'];
const ICON_TYPES = ['image/svg+xml', 'image/png', 'image/jpeg', 'image/gif'];

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
}
interface Csv {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations: Record<string, string> };
  spec: {
    displayName: string;
    description: string;
    version: string;
    minKubeVersion: string;
    provider: { name: string };
    maintainers: { name: string; email: string }[];
    icon: { base64data: string; mediatype: string }[];
    installModes: { type: string; supported: boolean }[];
    install: {
      strategy: string;
      spec: {
        deployments: { name: string; spec: { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: { serviceAccountName: string } } } }[];
        permissions: { serviceAccountName: string; rules: Rule[] }[];
        clusterPermissions: { serviceAccountName: string; rules: Rule[] }[];
      };
    };
    customresourcedefinitions: { owned: { name: string; version: string; kind: string; displayName: string; description: string }[] };
  };
}
interface Crd {
  kind: string;
  metadata: { name: string };
  spec: { group: string; names: { kind: string }; versions: { name: string; served: boolean }[] };
}

async function readBundleFile(path: string): Promise<string> {
  return readFile(join(BUNDLE, path), 'utf8');
}

describe('OperatorHub bundle', () => {
  let csv: Csv;
  let crds: Crd[];

  before(async () => {
    csv = parse(await readBundleFile(`manifests/${PACKAGE_NAME}.clusterserviceversion.yaml`)) as Csv;
    const manifests = (await readdir(join(BUNDLE, 'manifests'))).filter((file) => !file.endsWith('.clusterserviceversion.yaml'));
    crds = await Promise.all(manifests.map(async (file) => parse(await readBundleFile(`manifests/${file}`)) as Crd));
  });

  it('is what make gen generates from its sources (no stale or extra files)', async () => {
    const expected = buildBundle(await loadBundleInputs(REPO_ROOT));
    const onDisk = [...(await readdir(join(BUNDLE, 'manifests'))).map((file) => `manifests/${file}`), ...(await readdir(join(BUNDLE, 'metadata'))).map((file) => `metadata/${file}`)];
    expect(onDisk.sort()).to.deep.equal([...expected.keys()].sort());
    for (const [path, text] of expected) expect(await readBundleFile(path), `bundle/${path} is stale: run make gen`).to.equal(text);
  });

  it('has the registry+v1 annotations, naming the package and a default channel among its channels', async () => {
    const { annotations } = parse(await readBundleFile('metadata/annotations.yaml')) as { annotations: Record<string, string> };
    expect(annotations['operators.operatorframework.io.bundle.mediatype.v1']).to.equal('registry+v1');
    expect(annotations['operators.operatorframework.io.bundle.manifests.v1']).to.equal('manifests/');
    expect(annotations['operators.operatorframework.io.bundle.metadata.v1']).to.equal('metadata/');
    expect(annotations['operators.operatorframework.io.bundle.package.v1']).to.equal(PACKAGE_NAME);
    const channels = (annotations['operators.operatorframework.io.bundle.channels.v1'] ?? '').split(',');
    expect(channels).to.include(annotations['operators.operatorframework.io.bundle.channel.default.v1']);
  });

  it('has a CSV named <package>.v<semver> with the descriptive fields and an icon that decodes', () => {
    expect([csv.apiVersion, csv.kind]).to.deep.equal(['operators.coreos.com/v1alpha1', 'ClusterServiceVersion']);
    expect(csv.spec.version).to.match(SEMVER);
    expect(csv.spec.minKubeVersion).to.match(SEMVER);
    expect(csv.metadata.name).to.equal(`${PACKAGE_NAME}.v${csv.spec.version}`);
    expect(csv.spec.displayName).to.not.equal('');
    expect(csv.spec.description.length).to.be.greaterThan(100);
    expect(csv.spec.provider.name).to.not.equal('');
    for (const maintainer of csv.spec.maintainers) expect(maintainer.email).to.match(/^[^@\s]+@[^@\s]+\.[^@\s]+$/);
    expect(csv.spec.icon).to.have.length(1);
    const icon = csv.spec.icon[0];
    expect(ICON_TYPES).to.include(icon?.mediatype);
    expect(Buffer.from(icon?.base64data ?? '', 'base64').toString('utf8')).to.match(/^<svg[\s\S]*<\/svg>\s*$/);
    expect(csv.metadata.annotations.capabilities).to.be.oneOf(['Basic Install', 'Seamless Upgrades', 'Full Lifecycle', 'Deep Insights', 'Auto Pilot']);
  });

  it('declares each install mode once, with at least one supported', () => {
    expect(csv.spec.installModes.map((mode) => mode.type).sort()).to.deep.equal([...INSTALL_MODES].sort());
    expect(csv.spec.installModes.some((mode) => mode.supported)).to.equal(true);
  });

  it('has a deployment install strategy whose service accounts and permissions match, without wildcards', () => {
    const { install } = csv.spec;
    expect(install.strategy).to.equal('deployment');
    expect(install.spec.deployments).to.have.length.greaterThan(0);
    const accounts = new Set<string>();
    for (const deployment of install.spec.deployments) {
      expect(deployment.name).to.match(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(deployment.spec.template.metadata.labels).to.include(deployment.spec.selector.matchLabels);
      accounts.add(deployment.spec.template.spec.serviceAccountName);
    }
    const permitted = [...install.spec.permissions, ...install.spec.clusterPermissions];
    expect(permitted.map((entry) => entry.serviceAccountName).every((name) => accounts.has(name))).to.equal(true);
    for (const account of accounts) expect(permitted.some((entry) => entry.serviceAccountName === account), account).to.equal(true);
    for (const rule of permitted.flatMap((entry) => entry.rules)) {
      for (const field of [rule.apiGroups, rule.resources, rule.verbs]) expect(field ?? [], JSON.stringify(rule)).to.not.include('*');
      expect(rule.verbs ?? []).to.have.length.greaterThan(0);
    }
  });

  it('owns exactly the CRDs of crds/, each at a served version of the same kind, identical to the source', async () => {
    const sources = (await readdir(join(REPO_ROOT, 'crds'))).sort();
    const shipped = (await readdir(join(BUNDLE, 'manifests'))).filter((file) => file !== `${PACKAGE_NAME}.clusterserviceversion.yaml`).sort();
    expect(shipped).to.deep.equal(sources);
    for (const file of sources) expect(await readBundleFile(`manifests/${file}`), file).to.equal(await readFile(join(REPO_ROOT, 'crds', file), 'utf8'));
    const owned = csv.spec.customresourcedefinitions.owned;
    expect(owned.map((entry) => entry.name).sort()).to.deep.equal(crds.map((crd) => crd.metadata.name).sort());
    for (const entry of owned) {
      const crd = crds.find((candidate) => candidate.metadata.name === entry.name);
      expect(crd?.spec.names.kind, entry.name).to.equal(entry.kind);
      expect(crd?.spec.versions.some((version) => version.name === entry.version && version.served), entry.name).to.equal(true);
      expect(entry.displayName).to.not.equal('');
      expect(entry.description).to.not.equal('');
    }
  });

  it('has alm-examples that parse, cover every owned kind, and pass validation', () => {
    const examples = JSON.parse(csv.metadata.annotations['alm-examples'] ?? '') as { apiVersion: string; kind: string }[];
    const owned = csv.spec.customresourcedefinitions.owned;
    for (const example of examples) {
      const entry = owned.find((candidate) => candidate.kind === example.kind);
      expect(entry, example.kind).to.not.equal(undefined);
      expect(example.apiVersion).to.equal(`${entry?.name.split('.').slice(1).join('.')}/${entry?.version}`);
      expect(validateObject(example), example.kind).to.deep.equal([]);
    }
    expect(new Set(examples.map((example) => example.kind))).to.deep.equal(new Set(owned.map((entry) => entry.kind)));
  });
});
