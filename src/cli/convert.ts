import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { ManifestSource } from '../convert/index.ts';

/** Exit codes: 0 converted; 1 the input has problems (nothing written); 2 it could not run (usage, reading, writing). */
const EXIT_PROBLEMS = 1;
const EXIT_CANNOT_RUN = 2;

interface ConvertCliOptions {
  output?: string;
  namespace?: string;
}

const STDIN = '-';

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('anchorlb convert: reading MetalLB manifests from standard input (end with Ctrl-D)\n');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

async function readSources(files: readonly string[]): Promise<ManifestSource[]> {
  const names = files.length === 0 ? [STDIN] : files;
  if (names.filter((name) => name === STDIN).length > 1) throw new Error(`${STDIN} (standard input) given more than once`);
  return Promise.all(
    names.map(async (name) => (name === STDIN ? { text: await readStdin() } : { name, text: await readFile(name, 'utf8') })),
  );
}

async function runConvert(files: readonly string[], options: ConvertCliOptions): Promise<number> {
  let sources: ManifestSource[];
  try {
    sources = await readSources(files);
  } catch (error) {
    process.stderr.write(`error: cannot read input: ${(error as Error).message}\n`);
    return EXIT_CANNOT_RUN;
  }
  // Loaded here, not at start-up: the validators it pulls in are only needed by this command.
  const { convertManifests, formatConversionProblem, writeYamlDocuments } = await import('../convert/index.ts');
  const result = convertManifests(sources, options.namespace === undefined ? {} : { namespace: options.namespace });
  for (const note of result.notes) process.stderr.write(`note: ${note}\n`);
  for (const problem of result.problems) process.stderr.write(`error: ${formatConversionProblem(problem)}\n`);
  if (result.problems.length > 0) {
    const count = result.problems.length;
    process.stderr.write(`anchorlb convert: ${count} problem${count === 1 ? '' : 's'}; nothing written\n`);
    return EXIT_PROBLEMS;
  }
  const yaml = writeYamlDocuments(result.objects);
  if (options.output === undefined) {
    process.stdout.write(yaml);
    return 0;
  }
  // Written beside the target and renamed over it: a failed write leaves no half file.
  const partial = `${options.output}.${process.pid}.partial`;
  try {
    await writeFile(partial, yaml);
    await rename(partial, options.output);
  } catch (error) {
    await rm(partial, { force: true });
    process.stderr.write(`error: cannot write ${options.output}: ${(error as Error).message}\n`);
    return EXIT_CANNOT_RUN;
  }
  const count = result.objects.length;
  process.stderr.write(`anchorlb convert: ${count} object${count === 1 ? '' : 's'} written to ${options.output}\n`);
  return 0;
}

/** `anchorlb convert [files...] [-o FILE] [-n NAMESPACE]` */
export function registerConvertCommand(program: Command): void {
  program
    .command('convert')
    .description(
      'Convert MetalLB manifests (metallb.io/v1beta1 and v1beta2 objects, the MetalLB <= 0.12 ConfigMap, ' +
        'Service annotations) to anchorlb objects. Anything anchorlb cannot take is an error naming the ' +
        'document, field and value, and then nothing is written.',
    )
    .argument('[files...]', `YAML files to read; none, or ${STDIN}, reads standard input`)
    .option('-o, --output <file>', 'write the converted YAML here instead of standard output')
    .option('-n, --namespace <namespace>', 'put every anchorlb object in this namespace (Services keep theirs)')
    .action(async (files: string[], options: ConvertCliOptions) => {
      process.exitCode = await runConvert(files, options);
    });
}
