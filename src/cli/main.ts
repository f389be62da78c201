import { Command, CommanderError } from 'commander';
import { VERSION } from '../common/version.ts';
import { EXIT_USAGE, UsageError, usageLine } from './options.ts';

type Register = (program: Command) => void;

/**
 * Every subcommand, loaded only when asked for: a speaker process does not load the
 * operator's library or the local API server (resident memory and start-up time; see
 * `npm run bench:footprint`). `--help` and unknown commands load them all.
 */
const SUBCOMMANDS: Record<string, () => Promise<Register>> = {
  convert: async () => (await import('./convert.ts')).registerConvertCommand,
  'bgp-announce': async () => (await import('./bgp-announce.ts')).registerBgpAnnounceCommand,
  bfd: async () => (await import('./bfd.ts')).registerBfdCommand,
  'local-apiserver': async () => (await import('./local-apiserver.ts')).registerLocalApiServerCommand,
  controller: async () => (await import('./controller.ts')).registerControllerCommand,
  speaker: async () => (await import('./speaker.ts')).registerSpeakerCommand,
  operator: async () => (await import('./operator.ts')).registerOperatorCommand,
  doctor: async () => (await import('./doctor.ts')).registerDoctorCommand,
};

/** The subcommand argv names, if it is one of ours (options come after it). */
function requestedSubcommand(argv: readonly string[]): string | undefined {
  const first = argv.slice(2).find((arg) => !arg.startsWith('-'));
  return first !== undefined && Object.hasOwn(SUBCOMMANDS, first) ? first : undefined;
}

/** Subcommands to load for `argv`: the one it names; none for `--version`; all for help and errors. */
function subcommandsFor(argv: readonly string[]): string[] {
  const requested = requestedSubcommand(argv);
  if (requested !== undefined) return [requested];
  if (argv.includes('--version') || argv.includes('-V')) return [];
  return Object.keys(SUBCOMMANDS);
}

/**
 * The `anchorlb` command with the subcommand `argv` asks for, or with all of them (for help
 * and errors). Each part registers its own subcommand, so the help lists everything.
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('anchorlb').description('Bare-metal load balancer for Kubernetes').version(VERSION);
  const names = subcommandsFor(argv);
  const registers = await Promise.all(names.map((name) => (SUBCOMMANDS[name] as () => Promise<Register>)()));
  for (const register of registers) register(program);
  // Every command reports a bad command line the same way (main below): one line, exit 2.
  for (const command of [program, ...program.commands]) command.exitOverride().configureOutput({ outputError: () => undefined });
  return program;
}

/**
 * Runs the command `argv` names. A bad command line, whether commander or the command finds it,
 * is one line on stderr (`usageLine`) and exit status 2; help and --version exit 0; any other
 * error is printed with its stack and exits 1.
 */
export async function main(argv: string[]): Promise<void> {
  const command = requestedSubcommand(argv);
  try {
    await (await buildProgram(argv)).parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode === 0) return;
    if (error instanceof CommanderError || error instanceof UsageError) {
      process.stderr.write(`${usageLine(command, error)}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    process.stderr.write(`anchorlb${command === undefined ? '' : ` ${command}`}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  }
}
