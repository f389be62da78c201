// Without a loadable addon nothing silently degrades: availability() gives the reason and every
// entry point throws NativeUnavailableError with it. Runs in a child process so the addon this
// process may already have loaded does not interfere.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WRAPPER = fileURLToPath(new URL('../../../src/native/index.ts', import.meta.url));

const PROBE = `
const native = await import(${JSON.stringify(WRAPPER)});
const attempt = (f) => { try { f(); return 'no error'; } catch (e) { return e.name + ': ' + e.message; } };
console.log(JSON.stringify({
  availability: native.availability(),
  connect: attempt(() => native.connectTcpWithMd5({ host: '192.0.2.1', port: 179, key: 'k' })),
  open: attempt(() => native.PacketSocket.open({ interface: 'lo', filter: 'arp', onFrame() {}, onError() {} })),
}));`;

function probe(addonPath: string): Promise<{ availability: unknown; connect: string; open: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROBE], { env: { ...process.env, ANCHORLB_NATIVE_ADDON: addonPath } }, (error, stdout) => {
      if (error) reject(error);
      else resolve(JSON.parse(stdout) as { availability: unknown; connect: string; open: string });
    });
  });
}

describe('native: without a usable addon', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'anchorlb-native-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('not built: says to run make setup-native, and a TCP-MD5 session refuses to start', async () => {
    const reason = 'native addon not built: run make setup-native';
    expect(await probe(join(dir, 'missing.node'))).to.deep.equal({
      availability: { available: false, reason },
      connect: `NativeUnavailableError: ${reason}`,
      open: `NativeUnavailableError: ${reason}`,
    });
  });

  it('broken file: says it failed to load and to rebuild', async () => {
    const broken = join(dir, 'broken.node');
    await writeFile(broken, 'not an ELF file');
    const result = await probe(broken);
    expect(result.availability).to.have.property('available', false);
    expect(String((result.availability as { reason: string }).reason)).to.match(/^native addon failed to load \(.*\): rebuild it with make setup-native$/);
    expect(result.connect).to.match(/^NativeUnavailableError: native addon failed to load/);
  });
});
