/**
 * The speaker reads only the Secrets it needs, by name: the operator renders the
 * BGPPeers' passwordSecret names into the speaker's Role and re-renders it when the
 * peers change; the speaker, under exactly that Role, gets its BGP passwords.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse } from 'yaml';
import { readFile } from 'node:fs/promises';
import { createLogger } from '../../../src/common/log.ts';
import { KubeHttpError, KubeRest } from '../../../src/kube/rest.ts';
import { anchorlbPath, bgpPeersPath } from '../../../src/operator/reconcile.ts';
import type { DesiredBgpState } from '../../../src/speaker/bgp/desired.ts';
import { Speaker } from '../../../src/speaker/speaker.ts';
import { REPO_ROOT, loadKubeConfig, withLocalApiServer } from '../../support/apiserver.ts';
import { waitFor } from '../../support/testbed.ts';

const NS = 'anchorlb-system';
const SECRETS = `/api/v1/namespaces/${NS}/secrets`;
const SPEAKER_ROLE = `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles/anchorlb-speaker`;
const crdFiles = readdirSync(join(REPO_ROOT, 'crds')).map((file) => join(REPO_ROOT, 'crds', file));

function passwordSecret(name: string, password: string) {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'kubernetes.io/basic-auth', data: { password: Buffer.from(password).toString('base64') } };
}

function peer(name: string, secret: string) {
  return {
    apiVersion: 'anchorlb.io/v1beta1',
    kind: 'BGPPeer',
    metadata: { name },
    spec: { myASN: 64500, peerASN: 64501, peerAddress: '192.0.2.1', passwordSecret: { name: secret } },
  };
}

async function statusOf(request: Promise<unknown>): Promise<number> {
  try {
    await request;
    return 200;
  } catch (error) {
    if (error instanceof KubeHttpError) return error.statusCode;
    throw error;
  }
}

describe('speaker Secrets by name, under the Role the operator renders', function () {
  this.timeout(180_000);
  const cluster = withLocalApiServer({ crdFiles });
  let admin: KubeRest;
  let operator: ChildProcess | undefined;
  let speaker: Speaker | undefined;
  let desired: DesiredBgpState | undefined;

  const secretNamesOfRole = async () => {
    const role = await admin.getJson<{ rules: { resources?: string[]; resourceNames?: string[] }[] }>(SPEAKER_ROLE);
    return role.rules.find((rule) => rule.resources?.includes('secrets'))?.resourceNames;
  };
  const passwordOf = (peerName: string) => desired?.sessions.find((session) => session.peer === peerName)?.config.password;

  before(async () => {
    admin = new KubeRest(cluster.kubeConfig);
    const rendered = await cluster.kubectl(['kustomize', '--load-restrictor', 'LoadRestrictionsNone', join(REPO_ROOT, 'config/default')]);
    expect(rendered.code, rendered.stderr).to.equal(0);
    const applied = await cluster.kubectl(['apply', '--server-side', '-f', '-'], { stdin: rendered.stdout });
    expect(applied.code, applied.stderr).to.equal(0);
    await admin.create(SECRETS, passwordSecret('tor-md5', 's3cret'));
    await admin.create(SECRETS, passwordSecret('unrelated', 'not-yours'));
    await admin.create(bgpPeersPath(NS), peer('tor', 'tor-md5'));
    await admin.create('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node1', labels: { 'kubernetes.io/hostname': 'node1' } } });
    const operatorKubeconfig = await cluster.server.createServiceAccountKubeconfig(NS, 'anchorlb-operator');
    operator = spawn(process.execPath, [join(REPO_ROOT, 'bin/anchorlb.js'), 'operator', '--kubeconfig', operatorKubeconfig, '--namespace', NS, '--metrics-port', '0', '--metrics-host', '127.0.0.1'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await admin.create(`/apis/anchorlb.io/v1beta1/namespaces/${NS}/anchorlbs`, parse(await readFile(join(REPO_ROOT, 'config/samples/anchorlb.yaml'), 'utf8')));
  });

  after(async () => {
    await speaker?.shutdown();
    const child = operator;
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  });

  it('grants the speaker the liveness key and the peers\' password Secrets by name, and no other Secret', async () => {
    const names = await waitFor('the speaker Role', async () => (await admin.getJson(anchorlbPath(NS, 'anchorlb')).then(() => secretNamesOfRole()).catch(() => undefined)), 60_000, 250);
    expect(names).to.deep.equal(['anchorlb-liveness', 'tor-md5']);
    const asSpeaker = new KubeRest(loadKubeConfig(await cluster.server.createServiceAccountKubeconfig(NS, 'anchorlb-speaker')));
    expect(await statusOf(asSpeaker.getJson(`${SECRETS}/tor-md5`))).to.equal(200);
    expect(await statusOf(asSpeaker.getJson(SECRETS, { fieldSelector: 'metadata.name=tor-md5' }))).to.equal(200);
    expect(await statusOf(asSpeaker.getJson(`${SECRETS}/unrelated`))).to.equal(403);
    expect(await statusOf(asSpeaker.getJson(SECRETS))).to.equal(403);
  });

  it('lets the real speaker, with the speaker\'s identity, resolve its peer\'s password', async () => {
    speaker = new Speaker({
      kubeConfig: loadKubeConfig(await cluster.server.createServiceAccountKubeconfig(NS, 'anchorlb-speaker')),
      nodeName: 'node1',
      namespace: NS,
      logger: createLogger('speaker', 'silent'),
      liveness: { key: Buffer.alloc(32, 1), port: 17957, bindAddress: '127.0.0.1', intervalMs: 50, missedHeartbeats: 5, interfaces: [] },
      bgp: {
        apply: (state) => {
          desired = state;
          return Promise.resolve();
        },
        gracefulStop: () => Promise.resolve(),
      },
      handOverMs: 10,
    });
    await speaker.start();
    await waitFor('the peer with its password', () => passwordOf('tor') === 's3cret', 30_000);
  });

  it('follows a peer that names another Secret: the operator re-renders the Role, the speaker reads the new Secret', async () => {
    await admin.create(SECRETS, passwordSecret('tor-md5-rotated', 'n3w'));
    await admin.patch(`${bgpPeersPath(NS)}/tor`, { spec: { passwordSecret: { name: 'tor-md5-rotated' } } });
    await waitFor('the Role to name the new Secret only', async () => JSON.stringify(await secretNamesOfRole()) === JSON.stringify(['anchorlb-liveness', 'tor-md5-rotated']), 60_000, 250);
    await waitFor('the speaker to use the new password', () => passwordOf('tor') === 'n3w', 60_000);
  });
});
