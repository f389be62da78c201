// The directions dependencies may run between the top-level folders of src/ (ARCHITECTURE.md,
// "What depends on what"). Reads the sources and lists their imports with TypeScript's own
// pre-processor (static, `export … from`, type-only and dynamic `import()`; comments ignored).
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SRC = join(ROOT, 'src');

interface Edge {
  from: string; // file, relative to the repository
  to: string; // the imported module: a file under src/, or a package / node: built-in
}

/** The module specifiers a source file imports, whatever the form of the import. */
function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((file) => file.fileName);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'build' ? [] : sourceFiles(path);
    return /\.(ts|js)$/.test(entry.name) ? [path] : [];
  });
}

function edgesOf(files: string[]): Edge[] {
  return files.flatMap((file) =>
    importsOf(readFileSync(file, 'utf8')).map((spec) => ({
      from: relative(ROOT, file),
      to: spec.startsWith('.') ? relative(ROOT, resolve(dirname(file), spec)) : spec,
    })),
  );
}

/** `src/bgp/session.ts` → `bgp`; anything outside src/ (packages, built-ins) → undefined. */
function folderOf(path: string): string | undefined {
  const parts = path.split('/');
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : undefined;
}

function violations(edges: Edge[], from: string[], forbidden: (to: string) => boolean): string[] {
  return edges.filter((edge) => from.includes(folderOf(edge.from) ?? '') && forbidden(edge.to)).map((edge) => `${edge.from} imports ${edge.to}`);
}

/** Cycles between folders, each as `a -> b -> a (file imports file; …)`. */
function folderCycles(edges: Edge[]): string[] {
  const graph = new Map<string, Map<string, string>>();
  for (const edge of edges) {
    const a = folderOf(edge.from);
    const b = folderOf(edge.to);
    if (a === undefined || b === undefined || a === b) continue;
    const out = graph.get(a) ?? new Map<string, string>();
    if (!out.has(b)) out.set(b, `${edge.from} imports ${edge.to}`);
    graph.set(a, out);
  }
  const cycles: string[] = [];
  const done = new Set<string>();
  const visit = (node: string, path: string[]): void => {
    const at = path.indexOf(node);
    if (at >= 0) {
      const loop = [...path.slice(at), node];
      const why = loop.slice(1).map((to, i) => graph.get(loop[i] ?? '')?.get(to) ?? '');
      cycles.push(`${loop.join(' -> ')} (${why.join('; ')})`);
      return;
    }
    if (done.has(node)) return;
    for (const next of graph.get(node)?.keys() ?? []) visit(next, [...path, node]);
    done.add(node);
  };
  for (const node of graph.keys()) visit(node, []);
  return cycles;
}

/** Folders that talk to the network, the kernel, the API server or the process. */
const IO_FOLDERS = ['bfd', 'bgp', 'cli', 'doctor', 'kube', 'localcluster', 'native', 'operator', 'reconcilers', 'speaker'];
/** I/O modules in src/common (the rest of it is pure). */
const IO_COMMON = ['src/common/health-server.ts', 'src/common/kubeconfig.ts', 'src/common/log.ts'];
const IO_BUILTINS = /^node:(child_process|dgram|dns|fs|fs\/promises|http|https|http2|net|tls|worker_threads)$/;

const underFolders = (folders: string[]) => (to: string) => folders.includes(folderOf(to) ?? '');

describe('architecture: import directions between the folders of src/', () => {
  const edges = edgesOf(sourceFiles(SRC));

  it('sees every form of import in the sources (static, re-export, type-only, dynamic)', () => {
    expect(importsOf("import a from './a.ts';\nexport * from '../b.ts';\nimport type { C } from './c.ts';\nconst d = await import('../d.ts');\n// import e from './e.ts';\n")).to.deep.equal([
      './a.ts',
      '../b.ts',
      './c.ts',
      '../d.ts',
    ]);
    // The real tree: the L2 announcer's static import and the BGP library's dynamic one.
    expect(edges).to.deep.include({ from: 'src/speaker/l2/announcer.ts', to: 'src/native/index.ts' });
    expect(edges).to.deep.include({ from: 'src/bgp/speaker.ts', to: 'src/native/index.ts' });
  });

  it('the BGP and BFD libraries and the native addon do not import their consumers (speaker, reconcilers, operator, cli)', () => {
    expect(violations(edges, ['bgp', 'bfd', 'native'], underFolders(['speaker', 'reconcilers', 'operator', 'cli']))).to.deep.equal([]);
  });

  it('the allocator and the API types stay pure: no I/O folder, no I/O module of src/common, no I/O built-in', () => {
    const io = (to: string): boolean => underFolders(IO_FOLDERS)(to) || IO_COMMON.includes(to) || IO_BUILTINS.test(to);
    expect(violations(edges, ['allocator', 'api'], io)).to.deep.equal([]);
  });

  it('no import cycle between top-level folders', () => {
    expect(folderCycles(edges)).to.deep.equal([]);
  });

  it('a cycle between folders is found and named with the imports that make it', () => {
    const cycle = [
      { from: 'src/bgp/session.ts', to: 'src/native/index.ts' },
      { from: 'src/native/index.ts', to: 'src/common/mac.ts' },
      { from: 'src/common/mac.ts', to: 'src/bgp/codec/index.ts' },
    ];
    expect(folderCycles(cycle)).to.deep.equal([
      'bgp -> native -> common -> bgp (src/bgp/session.ts imports src/native/index.ts; src/native/index.ts imports src/common/mac.ts; src/common/mac.ts imports src/bgp/codec/index.ts)',
    ]);
  });
});
