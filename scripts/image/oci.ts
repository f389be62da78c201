/**
 * The OCI documents of a one-layer image (image-spec 1.0): config, manifest and the layout's
 * index. Pure: the same layer digests and settings always give the same bytes, hence the
 * same manifest digest.
 */
import { createHash } from 'node:crypto';

export interface LayerDigests {
  /** sha256 of the compressed (gzip) layer: the blob and its descriptor. */
  digest: string;
  size: number;
  /** sha256 of the uncompressed tar: the config's rootfs.diff_ids. */
  diffId: string;
}

export interface ImageSettings {
  /** Fully qualified name with tag (the layout's org.opencontainers.image.ref.name). */
  name: string;
  version: string;
  entrypoint: string[];
  user: string;
  workingDir: string;
  env: Record<string, string>;
}

export interface Blob {
  digest: string;
  size: number;
  bytes: Buffer;
}

export interface OciDocuments {
  config: Blob;
  manifest: Blob;
  /** index.json of the OCI layout (not a blob). */
  index: Buffer;
}

/** Fixed: the image's time is not the build's, so rebuilding gives the same digest. */
const EPOCH = '1970-01-01T00:00:00Z';

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function blob(value: unknown): Blob {
  const bytes = Buffer.from(JSON.stringify(value));
  return { digest: sha256(bytes), size: bytes.length, bytes };
}

export function ociDocuments(layer: LayerDigests, settings: ImageSettings): OciDocuments {
  const labels = {
    'org.opencontainers.image.title': 'anchorlb',
    'org.opencontainers.image.version': settings.version,
    'org.opencontainers.image.licenses': 'Apache-2.0',
  };
  const config = blob({
    created: EPOCH,
    architecture: 'amd64',
    os: 'linux',
    config: {
      User: settings.user,
      Env: Object.entries(settings.env).map(([name, value]) => `${name}=${value}`),
      Entrypoint: settings.entrypoint,
      WorkingDir: settings.workingDir,
      Labels: labels,
    },
    rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    history: [{ created: EPOCH, created_by: 'scripts/image/build.sh' }],
  });
  const manifest = blob({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size }],
    annotations: labels,
  });
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: manifest.digest,
          size: manifest.size,
          annotations: { 'org.opencontainers.image.ref.name': settings.name },
        },
      ],
    }),
  );
  return { config, manifest, index };
}
