/**
 * `npm run test:conformance -- [--kubeconfig FILE] [mocha options]`: runs the
 * conformance suite against FILE's server, or against the local API server when
 * no kubeconfig is given. mocha would take a bare FILE for a spec file, so the
 * option is read here and handed to the suite as CONFORMANCE_KUBECONFIG.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const mochaArguments: string[] = [];
let kubeconfig: string | undefined;
const argv = process.argv.slice(2);
for (let index = 0; index < argv.length; index++) {
  const argument = argv[index] ?? '';
  if (argument === '--kubeconfig') {
    kubeconfig = argv[++index];
    if (kubeconfig === undefined) throw new Error('--kubeconfig needs a file name');
  } else if (argument.startsWith('--kubeconfig=')) {
    kubeconfig = argument.slice('--kubeconfig='.length);
  } else {
    mochaArguments.push(argument);
  }
}
if (kubeconfig !== undefined && !existsSync(kubeconfig)) {
  console.error(`--kubeconfig: file not found: ${kubeconfig}`);
  process.exit(2);
}

const env = { ...process.env };
if (kubeconfig !== undefined) env.CONFORMANCE_KUBECONFIG = resolve(kubeconfig);
const mocha = spawn('npx', ['mocha', 'test/conformance/**/*.test.ts', ...mochaArguments], { stdio: 'inherit', env });
mocha.on('close', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
