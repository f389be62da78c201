import { expect } from 'chai';
import { CommanderError, InvalidArgumentError } from 'commander';
import { parsePort, UsageError, usageLine } from '../../../src/cli/options.ts';
import { buildProgram } from '../../../src/cli/main.ts';

/** What commander throws for `argv` (with every command's exitOverride from buildProgram). */
async function commanderError(argv: string[]): Promise<CommanderError> {
  const program = await buildProgram(['node', 'anchorlb', ...argv]);
  // The action must not run: the command line is refused before it.
  const error = await program.parseAsync(['node', 'anchorlb', ...argv]).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof CommanderError)) throw new Error(`expected a CommanderError for ${argv.join(' ')}, got ${String(error)}`);
  return error;
}

describe('cli/options: one line for a bad command line', () => {
  it('a flag value commander refuses names the flag, not its usage syntax', async () => {
    const error = await commanderError(['controller', '--metrics-port', '70000']);
    expect(usageLine('controller', error)).to.equal('anchorlb controller: --metrics-port: expected an integer from 0 to 65535, got "70000"');
  });

  it('a short-and-long flag is named by its long form', () => {
    const error = new CommanderError(1, 'commander.invalidArgument', "error: option '-o, --output <file>' argument 'x' is invalid. not writable");
    expect(usageLine('convert', error)).to.equal('anchorlb convert: --output: not writable');
  });

  it('an unknown flag or command keeps commander\'s words, behind the same prefix', async () => {
    expect(usageLine('operator', await commanderError(['operator', '--no-such-flag']))).to.equal("anchorlb operator: unknown option '--no-such-flag'");
    expect(usageLine(undefined, await commanderError(['no-such-command']))).to.equal("anchorlb: unknown command 'no-such-command'");
  });

  it("a command's own UsageError is printed as it is", () => {
    expect(usageLine('speaker', new UsageError('--node-name: not set (nor NODE_NAME)'))).to.equal('anchorlb speaker: --node-name: not set (nor NODE_NAME)');
  });

  it('parsePort refuses what is not a port, naming the value', () => {
    expect(parsePort('0')).to.equal(0);
    expect(parsePort('65535')).to.equal(65535);
    for (const bad of ['65536', '-1', '1.5', 'abc', '']) expect(() => parsePort(bad), bad).to.throw(InvalidArgumentError, `got ${JSON.stringify(bad)}`);
  });
});
