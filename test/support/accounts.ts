/**
 * The accounts and permissions the operator creates for an installation (config/rbac through the
 * operator's own render()), for tests that run the controller or the speaker under them.
 */
import { stringify } from 'yaml';
import type { AnchorLB } from '../../src/api/index.ts';
import { render } from '../../src/operator/render.ts';
import { loadRbacTemplates } from '../../src/operator/templates.ts';

/** ServiceAccounts, Roles, ClusterRoles and bindings of an AnchorLB in `namespace`, as YAML for `kubectl apply -f -`. */
export async function renderedAccountsYaml(namespace: string): Promise<string> {
  const anchorlb: AnchorLB = { apiVersion: 'anchorlb.io/v1beta1', kind: 'AnchorLB', metadata: { name: 'anchorlb', namespace }, spec: {} };
  const objects = render({ anchorlb, rbacTemplates: await loadRbacTemplates(), livenessSecretExists: true, speakerSecretNames: [], generateLivenessKey: () => Buffer.alloc(32) });
  const accounts = objects.filter((object) => object.kind === 'ServiceAccount' || object.kind.endsWith('Role') || object.kind.endsWith('Binding'));
  return accounts.map((object) => stringify(object)).join('---\n');
}
