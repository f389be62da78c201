import { Command } from 'commander';
import { registerConvertCommand } from './convert.ts';
import { registerBfdCommand } from './bfd.ts';
import { registerBgpAnnounceCommand } from './bgp-announce.ts';
import { registerLocalApiServerCommand } from './local-apiserver.ts';
import { registerControllerCommand } from './controller.ts';
import { registerSpeakerCommand } from './speaker.ts';
import { registerOperatorCommand } from './operator.ts';
import { registerDoctorCommand } from './doctor.ts';

/**
 * The `anchorlb` command. Each part registers its own subcommand here, so the
 * binary's help lists everything the project can run.
 */
export function buildProgram(): Command {
  const program = new Command('anchorlb')
    .description('Bare-metal load balancer for Kubernetes')
    .version(process.env.npm_package_version ?? '0.1.0');
  registerConvertCommand(program);
  registerBgpAnnounceCommand(program);
  registerBfdCommand(program);
  registerLocalApiServerCommand(program);
  registerControllerCommand(program);
  registerSpeakerCommand(program);
  registerOperatorCommand(program);
  registerDoctorCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
