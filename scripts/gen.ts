/**
 * Generates crds/*.yaml and src/schemas/generated/types.ts from src/schemas/*.schema.json.
 * With --check, writes nothing and exits 1 naming every stale file (CI's drift check).
 * --root DIR works on another tree (tests use a temporary copy).
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { findDrift, renderOutputs, writeOutputs } from '../src/schemas/generate.ts';

function rootDirOf(argv: string[]): string {
  const index = argv.indexOf('--root');
  return (index >= 0 ? argv[index + 1] : undefined) ?? fileURLToPath(new URL('..', import.meta.url));
}

async function main(rootDir: string, check: boolean): Promise<number> {
  const outputs = await renderOutputs(join(rootDir, 'src/schemas'));
  if (!check) {
    writeOutputs(rootDir, outputs);
    console.log(`gen: wrote ${outputs.size} files`);
    return 0;
  }
  const stale = findDrift(rootDir, outputs);
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
