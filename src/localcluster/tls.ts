import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A private CA and a server certificate for the HTTPS listener, made with the
 * openssl command (Node can parse certificates but not issue them). Kept in the
 * data dir, so a restarted server keeps the CA its kubeconfigs trust.
 */

const run = promisify(execFile);

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export async function ensureTlsMaterial(dir: string, host: string): Promise<TlsMaterial> {
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  const serverKey = join(dir, 'server.key');
  const serverCert = join(dir, 'server.crt');
  const serverCsr = join(dir, 'server.csr');
  const extensions = join(dir, 'server.ext');
  if (!existsSync(caCert) || !existsSync(serverCert) || !existsSync(serverKey)) {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    try {
      await run('openssl', ['req', '-x509', ...ec, '-keyout', caKey, '-out', caCert, '-days', '3650', '-subj', '/CN=anchorlb-local-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
      await run('openssl', ['req', ...ec, '-keyout', serverKey, '-out', serverCsr, '-subj', '/CN=anchorlb-local-apiserver']);
      const names = ['DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'IP:127.0.0.1', 'IP:::1'];
      if (host === '0.0.0.0' || host === '::') {
        // Listening everywhere: clients may dial any of this machine's addresses.
        for (const address of Object.values(networkInterfaces()).flat()) if (address && !address.address.includes('%')) names.push(`IP:${address.address}`);
      } else if (isIP(host) !== 0) names.push(`IP:${host}`);
      else names.push(`DNS:${host}`);
      await writeFile(extensions, `subjectAltName=${[...new Set(names)].join(',')}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
      await run('openssl', ['x509', '-req', '-in', serverCsr, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-out', serverCert, '-days', '3650', '-extfile', extensions]);
    } catch (error) {
      throw new Error(`cannot create the TLS certificates with openssl in ${dir}: ${(error as Error).message}`, { cause: error });
    }
  }
  const [caPem, certPem, keyPem] = await Promise.all([readFile(caCert, 'utf8'), readFile(serverCert, 'utf8'), readFile(serverKey, 'utf8')]);
  return { caPem, certPem, keyPem };
}
