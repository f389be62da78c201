/**
 * Generates crds/*.yaml and src/schemas/generated/types.ts from src/schemas/*.schema.json,
 * then from crds/ and config/ the OperatorHub bundle (bundle/) and the generated half of
 * the Helm chart (charts/anchorlb).
 * With --check, writes nothing and exits 1 naming every stale file (CI's drift check).
 * --root DIR works on another tree (tests use a temporary copy).
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { PACKAGING_DIRS, renderPackaging } from '../src/operator/packaging.ts';
import { CRD_DIR, findDrift, renderOutputs, writeOutputs } from '../src/schemas/generate.ts';

function rootDirOf(argv: string[]): string {
  const index = argv.indexOf('--root');
  return (index >= 0 ? argv[index + 1] : undefined) ?? fileURLToPath(new URL('..', import.meta.url));
}

async function main(rootDir: string, check: boolean): Promise<number> {
  const outputs = await renderOutputs(join(rootDir, 'src/schemas'));
  const crds = new Map([...outputs].filter(([path]) => path.startsWith(`${CRD_DIR}/`)).map(([path, text]) => [path.slice(CRD_DIR.length + 1), text]));
  for (const [path, text] of await renderPackaging(rootDir, crds)) outputs.set(path, text);
  const ownedDirs = [CRD_DIR, ...PACKAGING_DIRS];
  if (!check) {
    writeOutputs(rootDir, outputs, ownedDirs);
    console.log(`gen: wrote ${outputs.size} files`);
    return 0;
  }
  const stale = findDrift(rootDir, outputs, ownedDirs);
  for (const path of stale) console.error(`gen --check: stale ${path}; run make gen`);
  if (stale.length === 0) console.log(`gen --check: ${outputs.size} generated files up to date`);
  return stale.length === 0 ? 0 : 1;
}

main(rootDirOf(process.argv), process.argv.includes('--check')).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
