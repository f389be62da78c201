/**
 * `make release` (scripts/release.ts): dist/ holds install.yaml, the chart package and the
 * bundle (and the image archive when `make image` exists), all naming one version and image.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { releaseProblems, type ReleaseInputs } from '../../../src/operator/release.ts';
import { KUBECTL_PATH, REPO_ROOT } from '../../support/apiserver.ts';

const run = promisify(execFile);

describe('make release', function () {
  this.timeout(180_000);
  let out = '';
  let version = '';

  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'anchorlb-release-'));
    version = (JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const kustomize = await run(KUBECTL_PATH, ['kustomize', '--load-restrictor', 'LoadRestrictionsNone', join(REPO_ROOT, 'config/default')], { maxBuffer: 64 * 1024 * 1024 });
    await writeFile(join(out, 'install.yaml'), kustomize.stdout);
  });
  after(() => rm(out, { recursive: true, force: true }));

  it('packages the chart and the bundle next to install.yaml and lists them with their digests', async () => {
    const { stderr } = await run(join(REPO_ROOT, 'node_modules/.bin/tsx'), [join(REPO_ROOT, 'scripts/release.ts'), out, '--without-image']);
    expect(stderr).to.contain('WITHOUT the image archive');
    expect((await readdir(out)).sort()).to.deep.equal([`anchorlb-${version}.tgz`, `anchorlb-bundle-${version}.tar.gz`, 'install.yaml', 'release.json']);
    const listed = JSON.parse(await readFile(join(out, 'release.json'), 'utf8')) as { version: string; image: string; artifacts: { file: string; sha256: string }[] };
    expect(listed.version).to.equal(version);
    expect(listed.image).to.equal(`anchorlb/anchorlb:${version}`);
    expect(listed.artifacts.map((artifact) => artifact.file)).to.deep.equal(['install.yaml', `anchorlb-${version}.tgz`, `anchorlb-bundle-${version}.tar.gz`]);
    for (const artifact of listed.artifacts) expect(artifact.sha256).to.match(/^[0-9a-f]{64}$/);
    const { stdout: bundleFiles } = await run('tar', ['-tzf', join(out, `anchorlb-bundle-${version}.tar.gz`)]);
    expect(bundleFiles).to.contain(`./manifests/anchorlb.clusterserviceversion.yaml`).and.contain('./metadata/annotations.yaml');
  });

  it('refuses artifacts that name another version or image, saying which and where', async () => {
    const home = await mkdtemp(join(tmpdir(), 'anchorlb-release-helm-'));
    const helmEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, HELM_CACHE_HOME: home, HELM_CONFIG_HOME: home, HELM_DATA_HOME: home };
    const helm = async (args: string[]) => (await run(join(REPO_ROOT, '.tools/bin/helm'), args, { env: helmEnv, maxBuffer: 64 * 1024 * 1024 })).stdout;
    const chartPackage = join(out, `anchorlb-${version}.tgz`);
    const good: ReleaseInputs = {
      version,
      installYaml: await readFile(join(out, 'install.yaml'), 'utf8'),
      chartYaml: await helm(['show', 'chart', chartPackage]),
      chartTemplate: await helm(['template', 'anchorlb', chartPackage]),
      csv: await readFile(join(REPO_ROOT, 'bundle/manifests/anchorlb.clusterserviceversion.yaml'), 'utf8'),
      imageJson: JSON.stringify({ name: `docker.io/anchorlb/anchorlb:${version}` }),
    };
    const skewedTemplate = await helm(['template', 'anchorlb', chartPackage, '--set', 'image.tag=9.9.9']);
    await rm(home, { recursive: true, force: true });
    expect(releaseProblems(good)).to.deep.equal([]);
    const image = `anchorlb/anchorlb:${version}`;
    expect(releaseProblems({ ...good, installYaml: good.installYaml.replace(`image: ${image}`, 'image: anchorlb/anchorlb:0.0.9') })).to.deep.equal([
      `install.yaml: Deployment anchorlb-operator container operator image: "anchorlb/anchorlb:0.0.9", not "${image}"`,
    ]);
    expect(releaseProblems({ ...good, chartYaml: good.chartYaml.replace(`version: ${version}`, 'version: 9.9.9') })).to.deep.equal([`chart: Chart.yaml version: "9.9.9", not "${version}"`]);
    expect(releaseProblems({ ...good, chartTemplate: skewedTemplate })).to.have.members([
      `chart: Deployment anchorlb-operator container operator image: "anchorlb/anchorlb:9.9.9", not "${image}"`,
      `chart: AnchorLB anchorlb spec.controller.image: "anchorlb/anchorlb:9.9.9", not "${image}"`,
      `chart: AnchorLB anchorlb spec.speaker.image: "anchorlb/anchorlb:9.9.9", not "${image}"`,
    ]);
    expect(releaseProblems({ ...good, csv: good.csv.replace(`containerImage: ${image}`, 'containerImage: anchorlb/anchorlb:latest') })).to.deep.equal([
      `bundle: ClusterServiceVersion containerImage: "anchorlb/anchorlb:latest", not "${image}"`,
    ]);
    expect(releaseProblems({ ...good, imageJson: JSON.stringify({ name: 'docker.io/anchorlb/anchorlb:0.0.9' }) })).to.deep.equal([
      `image: image.json name: "docker.io/anchorlb/anchorlb:0.0.9", not "docker.io/${image}"`,
    ]);
    expect(releaseProblems({ ...good, version: '0.2.0' }).length, 'a version bump without regenerating').to.be.greaterThan(5);
  });
});
