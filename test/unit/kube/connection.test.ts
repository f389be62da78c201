import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { SettingsConnection, inClusterSettings, loadKubeConnection, parseKubeconfig } from '../../../src/kube/connection.ts';

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = { server: 'https://127.0.0.1:6443', 'certificate-authority-data': Buffer.from('CA PEM').toString('base64') }): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'ctx',
  });
}

async function optionsOf(connection: { applyToHTTPSOptions(options: https.RequestOptions): Promise<void> }): Promise<https.RequestOptions> {
  const options: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  await connection.applyToHTTPSOptions(options);
  return options;
}

describe('kube connection without client-node (speaker, controller)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'anchorlb-connection-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('sends the kubeconfig token and trusts its CA, keeping the request headers', async () => {
    const settings = parseKubeconfig(kubeconfig({ token: 'secret-token' }), '/k/config');
    expect(settings).to.not.equal(undefined);
    const connection = new SettingsConnection(settings as NonNullable<typeof settings>);
    expect(connection.getCurrentCluster().server).to.equal('https://127.0.0.1:6443');
    const options = await optionsOf(connection);
    expect(options.headers).to.deep.equal({ Accept: 'application/json', Authorization: 'Bearer secret-token' });
    expect(String(options.ca)).to.equal('CA PEM');
    expect(options.rejectUnauthorized).to.equal(true);
  });

  it('reads client certificates and the CA from files relative to the kubeconfig', async () => {
    writeFileSync(join(dir, 'ca.crt'), 'FILE CA');
    writeFileSync(join(dir, 'client.crt'), 'CERT');
    writeFileSync(join(dir, 'client.key'), 'KEY');
    const path = join(dir, 'config');
    writeFileSync(path, kubeconfig({ 'client-certificate': 'client.crt', 'client-key': 'client.key' }, { server: 'https://192.0.2.1:6443', 'certificate-authority': 'ca.crt' }));
    const options = await optionsOf(await loadKubeConnection(path, {}));
    expect([String(options.ca), String(options.cert), String(options.key)]).to.deep.equal(['FILE CA', 'CERT', 'KEY']);
    expect(options.headers).to.not.have.property('Authorization');
  });

  it('leaves exec and auth-provider credentials to client-node (loaded only then)', async () => {
    expect(parseKubeconfig(kubeconfig({ exec: { command: 'aws', apiVersion: 'client.authentication.k8s.io/v1' } }), '/k/config')).to.equal(undefined);
    const path = join(dir, 'config');
    writeFileSync(path, kubeconfig({ 'auth-provider': { name: 'oidc', config: {} } }));
    const connection = await loadKubeConnection(path, {});
    expect(connection).to.not.be.instanceOf(SettingsConnection);
    expect(connection.getCurrentCluster()?.server).to.equal('https://127.0.0.1:6443');
  });

  it('in a cluster, uses the projected token and re-reads it as the kubelet rotates it', async () => {
    expect(inClusterSettings({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }).server).to.equal('https://10.96.0.1:443');
    expect(inClusterSettings({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }).server).to.equal('https://[fd00::1]:443');
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'first\n');
    let now = 0;
    const connection = new SettingsConnection({ server: 'https://10.96.0.1:443', insecureSkipTlsVerify: false, token: { file: tokenFile } }, () => now);
    expect((await optionsOf(connection)).headers).to.include({ Authorization: 'Bearer first' });
    writeFileSync(tokenFile, 'second\n');
    now = 30_000;
    expect((await optionsOf(connection)).headers).to.include({ Authorization: 'Bearer first' });
    now = 60_000;
    expect((await optionsOf(connection)).headers).to.include({ Authorization: 'Bearer second' });
  });

  it('says what is missing: no kubeconfig and not in a cluster, an unknown context', async () => {
    expect(() => inClusterSettings({})).to.throw(/KUBERNETES_SERVICE_HOST/);
    const text = kubeconfig({ token: 't' }).replace('current-context: ctx', 'current-context: other');
    expect(() => parseKubeconfig(text, '/k/config')).to.throw('/k/config: no context named "other"');
  });
});
