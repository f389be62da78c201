// The image `make image` builds (scripts/image): reproducible (a second build from the same
// inputs has the same manifest digest), holding what the product needs and nothing of the
// development tool chain, and runnable by podman + runc: `anchorlb --version` and `convert`.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { VERSION } from '../../../src/common/version.ts';
import { REPO_ROOT } from '../../support/apiserver.ts';
import { ensureImage, podman, readImageSummary, type BuiltImage } from '../../support/image.ts';
import { run } from '../../support/testbed.ts';

describe('the anchorlb image (make image)', function () {
  this.timeout(900_000);
  let image: BuiltImage;

  before(async () => {
    image = await ensureImage();
  });

  it('is named with the version the manifests render and written as an OCI layout and archive', async () => {
    expect(image.name).to.equal(`docker.io/anchorlb/anchorlb:${VERSION}`);
    const index = JSON.parse(await readFile(join(REPO_ROOT, image.layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
    expect(index.manifests.map((manifest) => [manifest.digest, manifest.annotations['org.opencontainers.image.ref.name']])).to.deep.equal([[image.manifestDigest, image.name]]);
    const archived = (await run(['tar', '-tf', join(REPO_ROOT, image.archive)])).stdout.split('\n');
    expect(archived).to.include.members(['./index.json', './oci-layout', `./blobs/sha256/${image.manifestDigest.slice('sha256:'.length)}`]);
    const stored = await podman(['image', 'inspect', '--format', '{{.Digest}}', image.name]);
    expect(stored.stdout.trim(), "podman's copy").to.equal(image.manifestDigest);
  });

  it('is reproducible: a second, independent build gives the same manifest digest', async () => {
    const out = await mkdtemp(join(tmpdir(), 'anchorlb-image-'));
    try {
      await run(['nice', '-n', '10', 'bash', join(REPO_ROOT, 'scripts/image/build.sh'), out], { timeoutMs: 900_000 });
      const again = await readImageSummary(out);
      expect(again.manifestDigest).to.equal(image.manifestDigest);
      expect(await readFile(join(out, 'inputs.txt'), 'utf8')).to.equal(await readFile(join(REPO_ROOT, 'dist/image/inputs.txt'), 'utf8'));
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('holds node, ip, the compiled code, the native addon and production dependencies only', async () => {
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, image.layout, 'blobs/sha256', image.manifestDigest.slice('sha256:'.length)), 'utf8')) as { layers: Array<{ digest: string }> };
    const files = new Set<string>();
    for (const layer of manifest.layers) {
      const listing = await run(['tar', '-tzf', join(REPO_ROOT, image.layout, 'blobs/sha256', layer.digest.slice('sha256:'.length))], { timeoutMs: 120_000 });
      for (const line of listing.stdout.split('\n')) files.add(line.replace(/^\.\//, '').replace(/\/$/, ''));
    }
    expect([...files]).to.include.members([
      'usr/local/bin/node',
      'bin/ip',
      'opt/anchorlb/bin/anchorlb.js',
      'opt/anchorlb/build/cli/main.js',
      'opt/anchorlb/build/schemas/ipaddresspool.schema.json',
      'opt/anchorlb/build/native/build/Release/anchorlb_native.node',
      'opt/anchorlb/config/rbac/speaker.yaml',
      'opt/anchorlb/node_modules/@kubernetes/client-node/package.json',
      'etc/passwd',
    ]);
    const devOnly = [...files].filter((file) => /^opt\/anchorlb\/(src|test)\/|node_modules\/(tsx|esbuild|@esbuild|typescript|mocha)\/|\.d\.ts$|\.map$/.test(file));
    expect(devOnly, 'development files in the image').to.deep.equal([]);
    expect(image.compressedBytes, 'compressed size').to.be.below(80e6);
  });

  it('runs `anchorlb --version` and `anchorlb convert` in a container, as user 65534 by default', async () => {
    const version = await podman(['run', '--rm', '--network', 'none', '--read-only', '--cap-drop', 'ALL', image.name, '--version']);
    expect(version.stdout.trim()).to.equal(VERSION);
    const id = await podman(['run', '--rm', '--network', 'none', '--entrypoint', '["/usr/local/bin/node","-e","process.stdout.write(`${process.getuid()}:${process.getgid()}`)"]', image.name]);
    expect(id.stdout).to.equal('65534:65534');
    const metallb = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: { name: shop, namespace: metallb-system }
spec:
  addresses: [192.0.2.10-192.0.2.20]
`;
    const converted = await podman(['run', '--rm', '-i', '--network', 'none', '--read-only', '--cap-drop', 'ALL', image.name, 'convert'], { input: metallb });
    expect(converted.stdout).to.contain('apiVersion: anchorlb.io/v1beta1').and.to.contain('kind: IPAddressPool').and.to.contain('192.0.2.10-192.0.2.20');
  });
});
