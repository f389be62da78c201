import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { buildProgram } from '../../../src/cli/main.ts';

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('anchorlb command', () => {
  it('names itself and prints help listing its options and every subcommand', async function () {
    this.timeout(60_000); // loads every subcommand's modules, through tsx
    const program = await buildProgram();
    expect(program.name()).to.equal('anchorlb');
    expect(program.version()).to.equal(PACKAGE_VERSION);
    expect(program.helpInformation()).to.contain('Bare-metal load balancer for Kubernetes');
    expect(program.commands.map((command) => command.name())).to.have.members(['convert', 'bgp-announce', 'bfd', 'local-apiserver', 'controller', 'speaker', 'operator', 'doctor']);
  });

  it('loads only the subcommand it runs', async () => {
    const program = await buildProgram(['node', 'anchorlb', 'speaker', '--modes', 'l2']);
    expect(program.commands.map((command) => command.name())).to.deep.equal(['speaker']);
  });
});
