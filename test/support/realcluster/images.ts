/**
 * Images of the real cluster made from local material, so no registry is needed: the pod
 * sandbox ("pause") image is Debian's static catatonit in pause mode (`/pause -P`), written as
 * an OCI archive that `ctr images import` takes. containerd names an imported image by its
 * `io.containerd.image.name` annotation, and a kubelet asks for the fully qualified name.
 */
import { createHash } from 'node:crypto';
import { copyFile, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../testbed.ts';

export const PAUSE_IMAGE = 'localhost/anchorlb-realcluster/pause:catatonit';
const CATATONIT = '/usr/bin/catatonit';

/** GNU tar options for a reproducible archive of a directory's contents. */
const DETERMINISTIC_TAR = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=pax', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime'];

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes `archive`: an OCI image layout (tar) of one uncompressed layer holding `rootfs`'s contents. */
async function writeOciArchive(archive: string, name: string, rootfs: string, entrypoint: readonly string[]): Promise<void> {
  const layout = await mkdtemp(join(tmpdir(), 'anchorlb-oci-'));
  try {
    const blobs = join(layout, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    const addBlob = async (data: Buffer | string) => {
      const digest = sha256(data);
      await writeFile(join(blobs, digest), data);
      return { digest: `sha256:${digest}`, size: Buffer.byteLength(data) };
    };
    const layerFile = join(layout, 'layer.tar');
    await run(['tar', ...DETERMINISTIC_TAR, '-C', rootfs, '-cf', layerFile, '.']);
    const layer = await addBlob(await readFile(layerFile));
    await rm(layerFile);
    const config = await addBlob(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Entrypoint: entrypoint }, rootfs: { type: 'layers', diff_ids: [layer.digest] } }));
    const manifest = await addBlob(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    );
    const annotations = { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.slice(name.lastIndexOf(':') + 1) };
    await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations }] }));
    await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await run(['tar', ...DETERMINISTIC_TAR, '-C', layout, '-cf', archive, '.']);
  } finally {
    await rm(layout, { recursive: true, force: true });
  }
}

/** The pause image (PAUSE_IMAGE) as an OCI archive at `archive`. */
export async function writePauseImage(archive: string): Promise<void> {
  const rootfs = await mkdtemp(join(tmpdir(), 'anchorlb-pause-'));
  try {
    await copyFile(CATATONIT, join(rootfs, 'pause')).catch((error: unknown) => {
      throw new Error(`the pause image needs Debian's static catatonit at ${CATATONIT} (make setup-realcluster): ${(error as Error).message}`);
    });
    await chmod(join(rootfs, 'pause'), 0o755);
    await writeOciArchive(archive, PAUSE_IMAGE, rootfs, ['/pause', '-P']);
  } finally {
    await rm(rootfs, { recursive: true, force: true });
  }
}
