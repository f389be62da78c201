#!/usr/bin/env node
// Runs the compiled build (build/, from `make build`; the image holds only that) when it is
// there and no source file is newer than it; otherwise the TypeScript sources through tsx's
// loader (a checkout being edited), so a stale build never runs.
import { existsSync, readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const BUILT_STAMP = new URL('build/.built', root);
const SOURCES = new URL('src/', root);

function newestMtimeMs(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(`${entry.parentPath}/${entry.name}`).mtimeMs);
  }
  return newest;
}

function buildIsCurrent() {
  if (!existsSync(BUILT_STAMP)) return false;
  return !existsSync(SOURCES) || newestMtimeMs(SOURCES) <= statSync(BUILT_STAMP).mtimeMs;
}

let main;
if (buildIsCurrent()) {
  ({ main } = await import('../build/cli/main.js'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
await main(process.argv);
