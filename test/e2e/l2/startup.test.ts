// The announcer refuses to start, saying why and what to do, when raw frames are unavailable.
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { run } from '../../support/testbed.ts';

const ANNOUNCER = fileURLToPath(new URL('../../../src/speaker/l2/announcer.ts', import.meta.url));
const LOG = fileURLToPath(new URL('../../../src/common/log.ts', import.meta.url));
const SCRIPT = `
import { L2Announcer } from ${JSON.stringify(ANNOUNCER)};
import { createLogger } from ${JSON.stringify(LOG)};
try { new L2Announcer({ logger: createLogger('test') }); console.log('started'); }
catch (error) { console.log(error.name + ': ' + error.message); }
`;

async function startAnnouncer(prefix: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const argv = [...prefix, 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, '--import', 'tsx', '--input-type=module', '-e', SCRIPT];
  return (await run(argv)).stdout.trim();
}

describe('speaker L2 mode: start-up without raw access', function () {
  this.timeout(60_000);

  it('starts as root with the addon built', async () => {
    expect(await startAnnouncer([])).to.equal('started');
  });

  it('without CAP_NET_RAW: RawAccessError naming the capability', async () => {
    expect(await startAnnouncer(['setpriv', '--bounding-set', '-net_raw', '--inh-caps', '-net_raw'])).to.equal(
      'RawAccessError: Layer 2 mode cannot start: raw frames need CAP_NET_RAW (run as root or grant the capability)',
    );
  });

  it('without the native addon: RawAccessError saying how to build it', async () => {
    expect(await startAnnouncer([], { ANCHORLB_NATIVE_ADDON: '/nonexistent/anchorlb_native.node' })).to.match(/^RawAccessError: Layer 2 mode cannot start: native addon not built: run make setup-native$/);
  });
});
