/** Writes bundle/manifests and bundle/metadata from their sources (`make manifests`). */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundle, loadBundleInputs } from './bundle.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const files = buildBundle(await loadBundleInputs(root));
await rm(join(root, 'bundle/manifests'), { recursive: true, force: true });
for (const [path, text] of files) {
  const target = join(root, 'bundle', path);
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, text);
}
console.log(`wrote ${files.size} files under bundle/`);
