/**
 * The real `anchorlb controller` process against an API server, and the Service
 * bursts the restart test and `bench:controller` drive it with.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { V1Service } from '@kubernetes/client-node';
import type { KubeRest } from '../../../src/kube/rest.ts';
import { REPO_ROOT } from '../../support/apiserver.ts';

export interface ControllerProcess {
  readonly pid: number;
  readonly metricsPort: number;
  /** Every log line so far (pino JSON), for failure messages. */
  readonly log: string[];
  /** Sends the signal to this process only, and resolves once it has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Spawns `node bin/anchorlb.js controller …` and resolves once it logs that it runs (caches synced). */
export async function startControllerProcess(options: { kubeconfigPath: string; poolNamespace: string; extraArgs?: string[]; startTimeoutMs?: number }): Promise<ControllerProcess> {
  const args = [join(REPO_ROOT, 'bin/anchorlb.js'), 'controller', '--kubeconfig', options.kubeconfigPath, '--pool-namespace', options.poolNamespace, '--metrics-port', '0', '--metrics-host', '127.0.0.1', ...(options.extraArgs ?? [])];
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ANCHORLB_LOG_LEVEL: 'info' } });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn the controller process');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log: string[] = [];
  child.stderr.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  const metricsPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`controller did not start within ${options.startTimeoutMs ?? 30_000} ms:\n${log.join('\n')}`)), options.startTimeoutMs ?? 30_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const exitedEarly = (code: number | null, signal: NodeJS.Signals | null) => fail(new Error(`controller exited (${code ?? signal}) before it ran:\n${log.join('\n')}`));
    child.once('exit', exitedEarly);
    createInterface({ input: child.stdout }).on('line', (line) => {
      log.push(line);
      const port = runningPort(line);
      if (port !== undefined) {
        clearTimeout(timer);
        child.off('exit', exitedEarly);
        resolve(port);
      }
    });
  });
  return {
    pid,
    metricsPort,
    log,
    kill: (signal) => killAndWait(child, signal, exited),
  };
}

function runningPort(line: string): number | undefined {
  try {
    const entry = JSON.parse(line) as { msg?: unknown; metricsPort?: unknown };
    return entry.msg === 'controller running' && typeof entry.metricsPort === 'number' ? entry.metricsPort : undefined;
  } catch {
    return undefined;
  }
}

async function killAndWait(child: ChildProcess, signal: NodeJS.Signals, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  await exited;
}

/** A LoadBalancer Service asking for one address of the family. */
function singleStackService(name: string, family: 'IPv4' | 'IPv6') {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { type: 'LoadBalancer', ipFamilies: [family], ipFamilyPolicy: 'SingleStack', selector: { app: name }, ports: [{ port: 80, protocol: 'TCP' }] },
  };
}

/** An IPv6 pool has room for any burst. */
export const ipv6Service = (name: string) => singleStackService(name, 'IPv6');
export const ipv4Service = (name: string) => singleStackService(name, 'IPv4');

/** Creates the objects with a bounded number of requests in flight (all at once, as far as one client goes). */
export async function createAll(rest: KubeRest, collectionPath: string, objects: readonly unknown[], inFlight = 64): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < objects.length) {
      const object = objects[next++];
      await rest.create(collectionPath, object);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, objects.length) }, worker));
}

/** name → the addresses in status.loadBalancer.ingress, for every Service in the collection. */
export async function ingressByName(rest: KubeRest, collectionPath: string): Promise<Map<string, string[]>> {
  const list = await rest.getJson<{ items: V1Service[] }>(collectionPath);
  return new Map(list.items.map((service) => [service.metadata?.name ?? '', (service.status?.loadBalancer?.ingress ?? []).map((entry) => entry.ip ?? '').filter((ip) => ip !== '')]));
}
