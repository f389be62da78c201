import { stringify } from 'yaml';

/** A kubeconfig for one identity of the local server: a bearer token, and the CA when serving HTTPS. */
export function renderKubeconfig(options: { server: string; identity: string; token: string; caPem?: string; namespace?: string }): string {
  const cluster: Record<string, unknown> = { server: options.server };
  if (options.caPem !== undefined) cluster['certificate-authority-data'] = Buffer.from(options.caPem).toString('base64');
  // client-node needs this for a plain-http server; it has no effect on the connection.
  else cluster['insecure-skip-tls-verify'] = true;
  const context = `anchorlb-local-${options.identity}`;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'anchorlb-local', cluster }],
    users: [{ name: options.identity, user: { token: options.token } }],
    contexts: [{ name: context, context: { cluster: 'anchorlb-local', user: options.identity, namespace: options.namespace ?? 'default' } }],
    'current-context': context,
    preferences: {},
  });
}
