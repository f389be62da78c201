import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { Manifest } from './render.ts';

/** config/rbac of this checkout (the image carries the whole tree). */
export const DEFAULT_RBAC_DIR = fileURLToPath(new URL('../../config/rbac/', import.meta.url));

/** The RBAC objects the operator creates for each installation: the controller's and the speaker's. */
export const WORKLOAD_RBAC_FILES = ['controller.yaml', 'speaker.yaml'] as const;

/** Reads and checks the workload RBAC manifests; a malformed file is an error naming the file and document. */
export async function loadRbacTemplates(dir = DEFAULT_RBAC_DIR): Promise<Manifest[]> {
  const manifests: Manifest[] = [];
  for (const file of WORKLOAD_RBAC_FILES) {
    const path = `${dir.replace(/\/$/, '')}/${file}`;
    parseAllDocuments(await readFile(path, 'utf8')).forEach((document, index) => {
      const first = document.errors[0];
      if (first) throw new Error(`${path} document ${index}: ${first.message}`);
      const value: unknown = document.toJS();
      if (value === null || value === undefined) return;
      if (!isManifest(value)) throw new Error(`${path} document ${index}: must have apiVersion, kind and metadata.name`);
      manifests.push(value);
    });
  }
  return manifests;
}

function isManifest(value: unknown): value is Manifest {
  if (typeof value !== 'object' || value === null) return false;
  const { apiVersion, kind, metadata } = value as Record<string, unknown>;
  return typeof apiVersion === 'string' && typeof kind === 'string' && typeof metadata === 'object' && metadata !== null && typeof (metadata as { name?: unknown }).name === 'string';
}
