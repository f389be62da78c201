/**
 * Bad input refused at the door: for each CEL rule of src/api/cel-rules.ts, a bad
 * manifest applied with kubectl to the project's API server (with crds/ applied)
 * is refused with the expected message, and a good one is accepted.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT, withLocalApiServer } from '../../support/apiserver.ts';

const NS = 'anchorlb-system';
const crdFiles = readdirSync(join(REPO_ROOT, 'crds')).map((file) => join(REPO_ROOT, 'crds', file));
const meta = (name: string) => ({ name, namespace: NS });
const peer = (spec: Record<string, unknown>) => ({ apiVersion: 'anchorlb.io/v1beta1', kind: 'BGPPeer', metadata: meta('tor'), spec: { myASN: 64512, ...spec } });
const selectorPool = (expression: Record<string, unknown>) => ({
  apiVersion: 'anchorlb.io/v1beta1',
  kind: 'IPAddressPool',
  metadata: meta('pool'),
  spec: { addresses: ['192.0.2.0/28'], serviceAllocation: { serviceSelectors: [{ matchExpressions: [expression] }] } },
});
const anchorlb = (spec: Record<string, unknown>) => ({ apiVersion: 'anchorlb.io/v1beta1', kind: 'AnchorLB', metadata: meta('anchorlb'), spec });

const CASES: Array<{ what: string; manifest: object; error: string }> = [
  { what: 'peerASN with dynamicASN', manifest: peer({ peerASN: 64500, dynamicASN: 'external', peerAddress: '192.0.2.1' }), error: 'The BGPPeer "tor" is invalid: spec.dynamicASN: Forbidden: "external": not with spec.peerASN: give one or the other' },
  { what: 'neither peerASN nor dynamicASN', manifest: peer({ peerAddress: '192.0.2.1' }), error: 'spec.peerASN: Required value: is required unless spec.dynamicASN is set' },
  { what: 'peerAddress with interface', manifest: peer({ peerASN: 64500, peerAddress: '192.0.2.1', interface: 'eth0' }), error: 'spec.interface: Forbidden: "eth0": not with spec.peerAddress: give one or the other' },
  { what: 'neither peerAddress nor interface', manifest: peer({ peerASN: 64500 }), error: 'spec.peerAddress: Required value: is required unless spec.interface is set' },
  { what: 'password with passwordSecret', manifest: peer({ peerASN: 64500, peerAddress: '192.0.2.1', password: 'hunter2', passwordSecret: { name: 'tor-md5' } }), error: 'spec.passwordSecret: Forbidden: not with spec.password: give one or the other' },
  { what: 'In with no values', manifest: selectorPool({ key: 'app', operator: 'In', values: [] }), error: 'spec.serviceAllocation.serviceSelectors[0].matchExpressions[0].values: Required value: operator In needs at least one value' },
  { what: 'Exists with values', manifest: selectorPool({ key: 'app', operator: 'Exists', values: ['web'] }), error: 'spec.serviceAllocation.serviceSelectors[0].matchExpressions[0].values: Invalid value: "object": operator Exists takes no values' },
  { what: 'a label key that is not one', manifest: selectorPool({ key: 'app name', operator: 'Exists' }), error: 'spec.serviceAllocation.serviceSelectors[0].matchExpressions[0].key: Invalid value: "object": "app name": must be a label key' },
  { what: 'a zero heartbeat interval', manifest: anchorlb({ liveness: { heartbeatInterval: '0s' } }), error: 'The AnchorLB "anchorlb" is invalid: spec.liveness.heartbeatInterval: Invalid value: "object": "0s": must be more than 0s' },
  { what: 'a toleration Exists with a value', manifest: anchorlb({ speaker: { tolerations: [{ key: 'dedicated', operator: 'Exists', value: 'lb' }] } }), error: 'spec.speaker.tolerations[0].value: Invalid value: "object": "lb": must be empty when operator is Exists' },
  { what: 'a toleration with no key that is not Exists', manifest: anchorlb({ speaker: { tolerations: [{ operator: 'Equal', value: 'lb' }] } }), error: 'spec.speaker.tolerations[0].operator: Invalid value: "object": must be Exists when key is empty' },
  { what: 'tolerationSeconds without NoExecute', manifest: anchorlb({ speaker: { tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 30 }] } }), error: 'spec.speaker.tolerations[0].tolerationSeconds: Invalid value: "object": applies only to effect NoExecute' },
];

describe('validation rules at the door: kubectl apply of bad manifests to the local API server', function () {
  this.timeout(120_000);
  const cluster = withLocalApiServer({ crdFiles });

  before(async () => {
    // The samples' namespaces.
    for (const namespace of [NS, 'web']) {
      const created = await cluster.kubectl(['create', 'namespace', namespace]);
      expect(created.code, created.stderr).to.equal(0);
    }
  });

  for (const { what, manifest, error } of CASES) {
    it(`refuses ${what}`, async () => {
      const applied = await cluster.kubectl(['apply', '-f', '-'], { stdin: JSON.stringify(manifest) });
      expect(applied.code, applied.stdout).to.not.equal(0);
      expect(applied.stderr).to.contain(error);
      // A password never comes back in an error.
      expect(applied.stderr).to.not.contain('hunter2');
    });
  }

  it('accepts the samples, which break no rule', async () => {
    const applied = await cluster.kubectl(['apply', '-f', join(REPO_ROOT, 'config/samples')]);
    expect(applied.code, applied.stderr).to.equal(0);
  });
});
