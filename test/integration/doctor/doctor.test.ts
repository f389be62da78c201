/** `anchorlb doctor` as a process against the local API server holding a cluster with known problems. */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Finding } from '../../../src/doctor/checks.ts';
import { KubeHttpError, KubeRest } from '../../../src/kube/rest.ts';
import { REPO_ROOT, withLocalApiServer } from '../../support/apiserver.ts';

const crdFiles = readdirSync(join(REPO_ROOT, 'crds')).map((file) => join(REPO_ROOT, 'crds', file));

function runDoctor(kubeconfig: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/anchorlb.js'), 'doctor', '--kubeconfig', kubeconfig, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function createNamespace(rest: KubeRest, name: string): Promise<void> {
  try {
    await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  } catch (error) {
    if (!(error instanceof KubeHttpError && error.statusCode === 409)) throw error;
  }
}

describe('anchorlb doctor against the local API server', function () {
  this.timeout(60_000);
  const cluster = withLocalApiServer({ crdFiles });

  before(async () => {
    const rest = new KubeRest(cluster.kubeConfig);
    for (const name of ['kube-system', 'anchorlb-system']) await createNamespace(rest, name);
    await rest.create('/api/v1/namespaces/kube-system/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kube-proxy' },
      data: { 'config.conf': 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\nipvs:\n  strictARP: false\n' },
    });
    await rest.create('/apis/apps/v1/namespaces/kube-system/daemonsets', {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'kube-vip-ds' },
      spec: {
        selector: { matchLabels: { app: 'kube-vip' } },
        template: { metadata: { labels: { app: 'kube-vip' } }, spec: { containers: [{ name: 'kube-vip', image: 'ghcr.io/kube-vip/kube-vip:v0.8.0', env: [{ name: 'svc_enable', value: 'true' }] }] } },
      },
    });
    await rest.create('/apis/anchorlb.io/v1beta1/namespaces/anchorlb-system/ipaddresspools', {
      apiVersion: 'anchorlb.io/v1beta1',
      kind: 'IPAddressPool',
      metadata: { name: 'public' },
      spec: { addresses: ['192.0.2.0/28'] },
    });
  });

  it('names every planted problem and what to change, and exits 1', async () => {
    const result = await runDoctor(cluster.kubeconfigPath, ['--output', 'json']);
    expect(result.code, result.stderr).to.equal(1);
    const { findings, unreadable } = JSON.parse(result.stdout) as { findings: Finding[]; unreadable: string[] };
    expect(unreadable).to.deep.equal([]);
    expect(findings.map((finding) => [finding.check, finding.object])).to.deep.equal([
      ['rival-load-balancer', 'DaemonSet kube-system/kube-vip-ds'],
      ['ipvs-strict-arp', 'ConfigMap kube-system/kube-proxy'],
      ['unadvertised-pool', 'IPAddressPool anchorlb-system/public'],
    ]);
    for (const finding of findings) expect(finding.fix).to.not.equal('');
  });

  it('prints the findings as text, and refuses an unknown output format with exit 2', async () => {
    const text = await runDoctor(cluster.kubeconfigPath, []);
    expect(text.stdout).to.contain('ERROR [ipvs-strict-arp] ConfigMap kube-system/kube-proxy');
    expect(text.stdout).to.contain('fix: set ipvs.strictARP: true');
    const bad = await runDoctor(cluster.kubeconfigPath, ['--output', 'xml']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('--output must be text or json, not "xml"');
  });
});
