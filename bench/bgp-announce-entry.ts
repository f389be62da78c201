// `anchorlb bgp-announce` without the rest of the CLI: the benchmark measures the BGP
// speaker's own memory, not what other subcommands load at import time.
import { Command } from 'commander';
import { registerBgpAnnounceCommand } from '../src/cli/bgp-announce.ts';

const program = new Command('anchorlb');
registerBgpAnnounceCommand(program);
await program.parseAsync(process.argv);
