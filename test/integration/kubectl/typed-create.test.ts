/**
 * kubectl's typed commands send protobuf bodies: `kubectl create service loadbalancer`
 * and `kubectl create deployment`, the first things a user tries, work against the
 * project's API server.
 */
import { expect } from 'chai';
import { withLocalApiServer } from '../../support/apiserver.ts';

describe('kubectl create service and deployment (protobuf bodies) against the local API server', function () {
  this.timeout(60_000);
  const cluster = withLocalApiServer();

  const json = async (args: string[]) => {
    const result = await cluster.kubectl([...args, '-o', 'json']);
    expect(result.code, result.stderr).to.equal(0);
    return JSON.parse(result.stdout) as { metadata: { labels?: Record<string, string> }; spec: Record<string, unknown> };
  };

  it('kubectl create service loadbalancer makes the Service it says', async () => {
    const created = await cluster.kubectl(['create', 'service', 'loadbalancer', 'web', '--tcp=80:8080', '--tcp=443:web-tls']);
    expect(created.code, created.stderr).to.equal(0);
    expect(created.stdout).to.contain('service/web created');
    const service = await json(['get', 'service', 'web']);
    expect(service.spec).to.deep.include({ type: 'LoadBalancer', selector: { app: 'web' } });
    expect(service.spec.ports).to.deep.include.members([
      { name: '80-8080', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: (service.spec.ports as Array<{ nodePort: number }>)[0]?.nodePort },
    ]);
    expect((service.spec.ports as Array<{ targetPort: unknown }>)[1]?.targetPort).to.equal('web-tls');
  });

  it('kubectl create deployment makes the Deployment it says', async () => {
    const created = await cluster.kubectl(['create', 'deployment', 'shop', '--image=registry.example/shop:1.2', '--replicas=3', '--port=8080']);
    expect(created.code, created.stderr).to.equal(0);
    expect(created.stdout).to.contain('deployment.apps/shop created');
    const deployment = await json(['get', 'deployment', 'shop']);
    expect(deployment.metadata.labels).to.deep.equal({ app: 'shop' });
    expect(deployment.spec).to.deep.include({ replicas: 3, selector: { matchLabels: { app: 'shop' } } });
    const template = deployment.spec.template as { metadata: { labels: Record<string, string> }; spec: { containers: Array<{ name: string; image: string; ports: Array<{ containerPort: number }> }> } };
    expect(template.metadata.labels).to.deep.equal({ app: 'shop' });
    expect(template.spec.containers[0]).to.deep.include({ name: 'shop', image: 'registry.example/shop:1.2' });
    expect(template.spec.containers[0]?.ports[0]?.containerPort).to.equal(8080);
  });
});
