/**
 * Writes the OCI layout, its archive and image.json from a layer built by build.sh:
 *   tsx scripts/image/write-oci.ts --layer L.tar --layer-gz L.tar.gz --inputs inputs.txt --out DIR
 */
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { QUALIFIED_IMAGE, VERSION } from '../../src/common/version.ts';
import { ociDocuments, type Blob } from './oci.ts';

const { values } = parseArgs({ options: { layer: { type: 'string' }, 'layer-gz': { type: 'string' }, inputs: { type: 'string' }, out: { type: 'string' } } });
const required = (name: keyof typeof values): string => {
  const value = values[name];
  if (value === undefined) throw new Error(`write-oci: --${name} is required`);
  return value;
};

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

const out = required('out');
const layerGz = required('layer-gz');
const layer = { digest: await fileSha256(layerGz), size: (await stat(layerGz)).size, diffId: await fileSha256(required('layer')) };
const documents = ociDocuments(layer, {
  name: QUALIFIED_IMAGE,
  version: VERSION,
  entrypoint: ['/usr/local/bin/node', '/opt/anchorlb/bin/anchorlb.js'],
  user: '65534:65534',
  workingDir: '/opt/anchorlb',
  env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', NODE_ENV: 'production' },
});

// Written beside and swapped in, so a reader never sees half a layout.
const layout = join(out, 'oci');
const next = join(out, '.oci.next');
await rm(next, { recursive: true, force: true });
const blobs = join(next, 'blobs', 'sha256');
await mkdir(blobs, { recursive: true });
const blobPath = (digest: string) => join(blobs, digest.replace(/^sha256:/, ''));
await copyFile(layerGz, blobPath(layer.digest));
for (const document of [documents.config, documents.manifest] satisfies Blob[]) await writeFile(blobPath(document.digest), document.bytes);
await writeFile(join(next, 'index.json'), documents.index);
await writeFile(join(next, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
await rm(layout, { recursive: true, force: true });
await rename(next, layout);

// The same layout as one deterministic archive (what `ctr images import` and `podman load` take).
const archive = join(out, `anchorlb-${VERSION}.oci.tar`);
await promisify(execFile)('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=pax', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '-C', layout, '-cf', archive, '.']);

const inputs = await readFile(required('inputs'), 'utf8');
await writeFile(join(out, 'inputs.txt'), inputs);
const summary = {
  name: QUALIFIED_IMAGE,
  version: VERSION,
  manifestDigest: documents.manifest.digest,
  layout: relative(process.cwd(), layout),
  archive: relative(process.cwd(), archive),
  compressedBytes: layer.size + documents.config.size + documents.manifest.size,
  uncompressedBytes: (await stat(required('layer'))).size,
};
await writeFile(join(out, 'image.json'), `${JSON.stringify(summary, null, 2)}\n`);
process.stdout.write(`image: ${summary.name} ${summary.manifestDigest}, ${(summary.compressedBytes / 1e6).toFixed(1)} MB compressed, ${(summary.uncompressedBytes / 1e6).toFixed(1)} MB unpacked\nimage: OCI layout ${summary.layout}, archive ${summary.archive}\n`);
