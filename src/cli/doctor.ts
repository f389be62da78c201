import type { Command } from 'commander';
import { loadKubeConfig } from '../common/kubeconfig.ts';
import { diagnose, formatFindings } from '../doctor/checks.ts';
import { collectSnapshot } from '../doctor/collect.ts';

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('look for what fights a bare-metal load balancer: other load balancers, overlapping ranges, kube-proxy IPVS without strictARP, status fights, peers without nodes, unadvertised pools')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: KUBECONFIG, ~/.kube/config, then in-cluster)')
    .option('--namespace <namespace>', 'namespace of the anchorlb installation and its configuration', 'anchorlb-system')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (options: { kubeconfig?: string; namespace: string; output: string }) => {
      if (options.output !== 'text' && options.output !== 'json') {
        process.stderr.write(`anchorlb doctor: --output must be text or json, not ${JSON.stringify(options.output)}\n`);
        process.exitCode = 2;
        return;
      }
      let collected: Awaited<ReturnType<typeof collectSnapshot>>;
      try {
        collected = await collectSnapshot(loadKubeConfig(options.kubeconfig), options.namespace);
      } catch (error) {
        process.stderr.write(`anchorlb doctor: cannot read the cluster: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 2;
        return;
      }
      const { snapshot, unreadable } = collected;
      const findings = diagnose(snapshot);
      if (options.output === 'json') process.stdout.write(`${JSON.stringify({ findings, unreadable }, null, 2)}\n`);
      else {
        process.stdout.write(formatFindings(findings));
        for (const what of unreadable) process.stdout.write(`\nnot checked (could not read): ${what}\n`);
      }
      // 1: something to fix (2: could not run); warnings alone do not fail scripts.
      process.exitCode = findings.some((finding) => finding.severity === 'error') ? 1 : 0;
    });
}
