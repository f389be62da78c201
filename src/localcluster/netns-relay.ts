/**
 * Makes an API server on this namespace's loopback reachable at the same address inside
 * other network namespaces, so one kubeconfig (and its TLS certificate, issued for
 * 127.0.0.1) works everywhere: this process listens on a Unix socket (the file system is
 * shared across namespaces) and connects to the server; a small relay process inside each
 * namespace listens on 127.0.0.1:PORT there and connects to that socket.
 *
 * Run inside a namespace as: `node --import tsx netns-relay.ts HOST PORT SOCKET`.
 *
 * The other way round (a server inside a namespace, reached from this one, as the test
 * suite's real cluster is): `netns-relay.ts --socket-to-tcp SOCKET HOST PORT` inside the
 * server's namespace accepts on SOCKET and connects to HOST:PORT there.
 */
import { rmSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

function pipeBoth(a: net.Socket, b: net.Socket): void {
  a.pipe(b);
  b.pipe(a);
  // Either side gone ends both: a watch stream must not outlive its client through a half-open relay.
  for (const [side, peer] of [[a, b], [b, a]] as const) {
    side.on('error', () => peer.destroy());
    side.on('close', () => peer.destroy());
  }
}

/** Accepts on `socketPath` and connects each client to host:port. */
export async function startUnixToTcpRelay(socketPath: string, host: string, port: number): Promise<{ close(): Promise<void> }> {
  rmSync(socketPath, { force: true });
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    pipeBoth(client, net.connect(port, host));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
        rmSync(socketPath, { force: true });
      }),
  };
}

/** Accepts on host:port and connects each client to `socketPath`; resolves once listening. */
export async function startTcpToUnixRelay(host: string, port: number, socketPath: string): Promise<net.Server> {
  const server = net.createServer((client) => pipeBoth(client, net.connect(socketPath)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}

/** The line the relay prints once it listens, which its parent waits for. */
export const RELAY_READY = 'relay listening';

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const toTcp = process.argv[2] === '--socket-to-tcp';
  const [first, second, third] = process.argv.slice(toTcp ? 3 : 2);
  const [host, port, socketPath] = toTcp ? [second, third, first] : [first, second, third];
  if (host === undefined || socketPath === undefined || !/^\d+$/.test(port ?? '')) {
    process.stderr.write(`usage: netns-relay.ts HOST PORT SOCKET | --socket-to-tcp SOCKET HOST PORT (got ${JSON.stringify(process.argv.slice(2))})\n`);
    process.exit(2);
  }
  (toTcp ? startUnixToTcpRelay(socketPath, host, Number(port)) : startTcpToUnixRelay(host, Number(port), socketPath)).then(
    () => process.stdout.write(`${RELAY_READY}\n`),
    (error: unknown) => {
      process.stderr.write(`relay ${toTcp ? `${socketPath} → ${host}:${port}` : `${host}:${port} → ${socketPath}`}: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
