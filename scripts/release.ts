/**
 * `make release`: puts next to dist/install.yaml (`make manifests`) the Helm chart package,
 * the OperatorHub bundle and the image archive (`make image`), checks that all of them name
 * the same version and image, and lists them with their sha256 in dist/release.json.
 *
 *   tsx scripts/release.ts [OUT_DIR] [--without-image]
 *
 * --without-image: the release has no image archive (Makefile: no `image` target yet).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PACKAGE_NAME } from '../src/operator/bundle.ts';
import { CHART_DIR } from '../src/operator/chart.ts';
import { releaseImage, releaseProblems } from '../src/operator/release.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const out = resolve(args.find((arg) => !arg.startsWith('--')) ?? join(root, 'dist'));
const withImage = !args.includes('--without-image');

async function readOrFail(path: string, hint: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    throw new Error(`${path} is missing: ${hint}`);
  }
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

async function main(): Promise<void> {
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  const installYaml = await readOrFail(join(out, 'install.yaml'), 'run make manifests');

  const home = await mkdtemp(join(tmpdir(), 'anchorlb-release-helm-'));
  const helm = (helmArgs: string[]) =>
    run(join(root, '.tools/bin/helm'), helmArgs, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, HELM_CACHE_HOME: home, HELM_CONFIG_HOME: home, HELM_DATA_HOME: home },
      maxBuffer: 64 * 1024 * 1024,
    });
  const chartPackage = join(out, `${PACKAGE_NAME}-${version}.tgz`);
  let chartYaml: string;
  let chartTemplate: string;
  try {
    await helm(['package', join(root, CHART_DIR), '--destination', out]);
    chartYaml = (await helm(['show', 'chart', chartPackage])).stdout;
    chartTemplate = (await helm(['template', PACKAGE_NAME, chartPackage, '--namespace', 'anchorlb-system'])).stdout;
  } finally {
    await rm(home, { recursive: true, force: true });
  }

  // The same bytes from the same bundle/: sorted names, no owners, no times.
  const bundleArchive = join(out, `${PACKAGE_NAME}-bundle-${version}.tar.gz`);
  await run('bash', ['-c', 'set -o pipefail; tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=pax --pax-option=delete=atime,delete=ctime -C "$1" -cf - . | gzip -n -9 > "$2"', 'tar', join(root, 'bundle'), bundleArchive]);
  const csv = await readFile(join(root, 'bundle/manifests', `${PACKAGE_NAME}.clusterserviceversion.yaml`), 'utf8');

  const artifacts = [join(out, 'install.yaml'), chartPackage, bundleArchive];
  let imageJson: string | undefined;
  if (withImage) {
    imageJson = await readOrFail(join(out, 'image/image.json'), 'run make image');
    const archive = join(out, `${PACKAGE_NAME}-${version}.oci.tar`);
    await copyFile(join(out, 'image', `${PACKAGE_NAME}-${version}.oci.tar`), archive);
    artifacts.push(archive);
  }

  const problems = releaseProblems({ version, installYaml, chartYaml, chartTemplate, csv, imageJson });
  if (problems.length > 0) throw new Error(`release: the artifacts do not name one version and image:\n  ${problems.join('\n  ')}`);

  const listed = await Promise.all(artifacts.map(async (path) => ({ file: basename(path), sha256: await sha256(path) })));
  const manifest = { version, image: releaseImage(version), artifacts: listed, ...(withImage ? {} : { missing: ['image archive: no make image target'] }) };
  await writeFile(join(out, 'release.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const { file, sha256: digest } of listed) console.log(`release ${version}: ${file} sha256:${digest}`);
  if (!withImage) console.error(`release ${version}: WITHOUT the image archive (no make image target)`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
