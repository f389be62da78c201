/**
 * Certificates and kubeconfigs of one real-cluster run, made with the openssl command (Node
 * can parse certificates but not issue them): a CA per run, a serving certificate for
 * kube-apiserver, client certificates whose subject is the identity kube-apiserver sees
 * (CN = user, O = groups), and a service-account signing key.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { run } from '../testbed.ts';

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface Credential {
  cert: string;
  key: string;
}

export class Pki {
  readonly caCert: string;
  readonly caKey: string;

  private constructor(readonly dir: string) {
    this.caCert = join(dir, 'ca.crt');
    this.caKey = join(dir, 'ca.key');
  }

  /** A fresh CA in `dir`, and the service-account key pair (sa.key, sa.pub). */
  static async create(dir: string): Promise<Pki> {
    const pki = new Pki(dir);
    await run(['openssl', 'req', '-x509', ...EC, '-keyout', pki.caKey, '-out', pki.caCert, '-days', '30', '-subj', '/CN=anchorlb-realcluster-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature']);
    await run(['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', pki.serviceAccountKey]);
    await run(['openssl', 'pkey', '-in', pki.serviceAccountKey, '-pubout', '-out', pki.serviceAccountPublicKey]);
    return pki;
  }

  get serviceAccountKey(): string {
    return join(this.dir, 'sa.key');
  }

  get serviceAccountPublicKey(): string {
    return join(this.dir, 'sa.pub');
  }

  /**
   * Issues `name`.crt/.key for user `user` in `groups`; `altNames` (IP addresses or DNS names)
   * make it a serving certificate too.
   */
  async issue(name: string, user: string, groups: readonly string[] = [], altNames: readonly string[] = []): Promise<Credential> {
    const credential = { cert: join(this.dir, `${name}.crt`), key: join(this.dir, `${name}.key`) };
    const csr = join(this.dir, `${name}.csr`);
    const extensions = join(this.dir, `${name}.ext`);
    const subject = [...groups.map((group) => `/O=${group}`), `/CN=${user}`].join('');
    await run(['openssl', 'req', ...EC, '-keyout', credential.key, '-out', csr, '-subj', subject]);
    const lines = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment'];
    if (altNames.length > 0) {
      lines.push(`subjectAltName=${altNames.map((name) => (/^[\d.]+$|:/.test(name) ? `IP:${name}` : `DNS:${name}`)).join(',')}`, 'extendedKeyUsage=serverAuth,clientAuth');
    } else {
      lines.push('extendedKeyUsage=clientAuth');
    }
    await writeFile(extensions, `${lines.join('\n')}\n`);
    await run(['openssl', 'x509', '-req', '-in', csr, '-CA', this.caCert, '-CAkey', this.caKey, '-CAcreateserial', '-out', credential.cert, '-days', '30', '-extfile', extensions]);
    return credential;
  }

  /** Writes a kubeconfig for `credential` against `server` (trusting this CA) to `path`. */
  async writeKubeconfig(path: string, server: string, user: string, credential: Credential): Promise<string> {
    const [ca, cert, key] = await Promise.all([readFile(this.caCert), readFile(credential.cert), readFile(credential.key)]);
    const base64 = (data: Buffer) => data.toString('base64');
    await writeFile(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'realcluster', cluster: { server, 'certificate-authority-data': base64(ca) } }],
        users: [{ name: user, user: { 'client-certificate-data': base64(cert), 'client-key-data': base64(key) } }],
        contexts: [{ name: user, context: { cluster: 'realcluster', user, namespace: 'default' } }],
        'current-context': user,
        preferences: {},
      }),
      { mode: 0o600 },
    );
    return path;
  }
}
