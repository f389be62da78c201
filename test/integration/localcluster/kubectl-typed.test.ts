import { expect } from 'chai';
import { withLocalApiServer } from '../../support/apiserver.ts';
import { requireKubectl } from '../../support/preconditions.ts';

// kubectl's typed commands send protobuf bodies and impersonation headers, unlike apply/get/patch.
describe('kubectl typed commands against the local API server', function () {
  const cluster = withLocalApiServer();

  before(function () {
    requireKubectl(this);
  });

  async function ok(args: string[]): Promise<string> {
    const result = await cluster.kubectl(args);
    expect(result.code, `kubectl ${args.join(' ')}: ${result.stderr}`).to.equal(0);
    return result.stdout.trim();
  }

  it('creates namespaces, config maps, secrets, service accounts and RBAC objects with kubectl create', async () => {
    await ok(['create', 'namespace', 'typed']);
    await ok(['create', 'configmap', 'settings', '-n', 'typed', '--from-literal=mode=fast', '--from-literal=empty=']);
    await ok(['create', 'secret', 'generic', 'creds', '-n', 'typed', '--from-literal=password=hunter2']);
    await ok(['create', 'serviceaccount', 'robot', '-n', 'typed']);
    await ok(['create', 'role', 'reader', '-n', 'typed', '--verb=get,list,watch', '--resource=configmaps']);
    await ok(['create', 'rolebinding', 'reader', '-n', 'typed', '--role=reader', '--serviceaccount=typed:robot']);
    expect(await ok(['get', 'configmap', 'settings', '-n', 'typed', '-o', 'jsonpath={.data}'])).to.equal('{"empty":"","mode":"fast"}');
    expect(await ok(['get', 'secret', 'creds', '-n', 'typed', '-o', 'jsonpath={.type} {.data.password}'])).to.equal(`Opaque ${Buffer.from('hunter2').toString('base64')}`);
    expect(await ok(['create', 'token', 'robot', '-n', 'typed'])).to.match(/^\S{20,}$/);
  });

  it('answers kubectl auth can-i and --as from the RBAC objects it holds', async () => {
    const as = '--as=system:serviceaccount:typed:robot';
    expect(await ok(['auth', 'can-i', 'list', 'configmaps', '-n', 'typed', as])).to.equal('yes');
    const refused = await cluster.kubectl(['auth', 'can-i', 'delete', 'configmaps', '-n', 'typed', as]);
    expect([refused.code, refused.stdout.trim()]).to.deep.equal([1, 'no']);
    expect(await ok(['get', 'configmaps', '-n', 'typed', '-o', 'name', as])).to.contain('configmap/settings');
    const forbidden = await cluster.kubectl(['get', 'secrets', '-n', 'typed', as]);
    expect(forbidden.code).to.equal(1);
    expect(forbidden.stderr).to.contain('User "system:serviceaccount:typed:robot" cannot list resource "secrets" in API group "" in the namespace "typed"');
    expect(await ok(['auth', 'whoami', as, '-o', 'jsonpath={.status.userInfo.username}'])).to.equal('system:serviceaccount:typed:robot');
    const rules = (await ok(['auth', 'can-i', '--list', '-n', 'typed', as])).split('\n');
    expect(rules.find((line) => line.startsWith('configmaps '))).to.match(/\[get list watch\]$/);
    expect(rules.some((line) => line.startsWith('secrets '))).to.equal(false);
  });

  it('scales a deployment through its scale subresource', async () => {
    const manifest = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: typed}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx}]}\n';
    const applied = await cluster.kubectl(['apply', '-f', '-'], { stdin: manifest });
    expect(applied.code, applied.stderr).to.equal(0);
    await ok(['scale', 'deployment', 'web', '-n', 'typed', '--replicas=4']);
    expect(await ok(['get', 'deployment', 'web', '-n', 'typed', '-o', 'jsonpath={.spec.replicas} {.metadata.generation}'])).to.equal('4 2');
    const scale = JSON.parse(await ok(['get', '--raw', '/apis/apps/v1/namespaces/typed/deployments/web/scale'])) as { kind: string; status: { selector: string } };
    expect([scale.kind, scale.status.selector]).to.deep.equal(['Scale', 'app=web']);
  });

  it('deletes a namespace and its content with kubectl delete --wait', async () => {
    await ok(['delete', 'namespace', 'typed', '--wait=true', '--timeout=30s']);
    const gone = await cluster.kubectl(['get', 'namespace', 'typed']);
    expect(gone.stderr).to.contain('NotFound');
  });
});
