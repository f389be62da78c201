import { expect } from 'chai';
import fc from 'fast-check';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createLogger } from '../../../src/common/log.ts';
import { BindLedger, Bindings, checkBinding, defaultBindStateFile, formatBindState, parseBindState, wantedBindings, type Binding } from '../../../src/speaker/bind.ts';

const vip: Binding = { address: '192.0.2.200', iface: 'lo' };

describe('speaker/bind: state file (pure)', () => {
  it('reads back what it writes, in canonical form', () => {
    const bound = [vip, { address: '2001:db8::c', iface: 'vips0' }];
    expect(parseBindState(formatBindState('node3', bound), 'f.json')).to.have.deep.members(bound);
    fc.assert(
      fc.property(fc.uniqueArray(fc.record({ address: fc.oneof(fc.ipV4(), fc.ipV6()), iface: fc.constantFrom('lo', 'vips0', 'dummy.1') }), { selector: (b) => `${b.address}%${b.iface}`, maxLength: 20 }), (entries) => {
        const canonical = entries.map((b) => checkBinding(b.address, b.iface));
        expect(parseBindState(formatBindState('n', canonical), 'f.json')).to.have.deep.members(canonical);
      }),
    );
  });

  it('equal sets give the same file, whatever the order', () => {
    const other = { address: '198.51.100.1', iface: 'lo' };
    expect(formatBindState('n', [vip, other])).to.equal(formatBindState('n', [other, vip]));
  });

  it('names the file, field and value of a bad record', () => {
    expect(() => parseBindState('{', '/run/x.json')).to.throw(/\/run\/x\.json: not JSON/);
    expect(() => parseBindState('[]', 'f')).to.throw(/f: expected an object, got \[\]/);
    expect(() => parseBindState('{"version":2,"bound":[]}', 'f')).to.throw(/version 2 is not supported/);
    expect(() => parseBindState('{"version":1,"bound":{}}', 'f')).to.throw(/bound must be a list, got \{\}/);
    expect(() => parseBindState('{"version":1,"bound":[{"interface":"lo"}]}', 'f')).to.throw(/bound\[0\]\.address must be a string, got undefined/);
    expect(() => parseBindState('{"version":1,"bound":[{"address":"192.0.2.1","interface":7}]}', 'f')).to.throw(/bound\[0\]\.interface must be a string, got 7/);
    expect(() => parseBindState('{"version":1,"bound":[{"address":"192.0.2.999","interface":"lo"}]}', 'f')).to.throw(/bound\[0\]: .*"192\.0\.2\.999" is not an IP address/);
    expect(() => parseBindState('{"version":1,"bound":[{"address":"192.0.2.1","interface":"lo; rm"}]}', 'f')).to.throw(/bound\[0\]: .*"lo; rm" is not an interface name/);
  });

  it('never crashes on arbitrary text: parses or throws an Error naming the file', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        try {
          parseBindState(text, 'state.json');
        } catch (error) {
          expect(error).to.be.instanceOf(Error);
          expect((error as Error).message).to.match(/^state\.json: /);
        }
      }),
    );
  });
});

describe('speaker/bind: default record path (pure)', () => {
  it('one file per node name and network namespace, under /run/anchorlb; a name cannot leave the directory', () => {
    expect(defaultBindStateFile('node3', '4026531833')).to.equal('/run/anchorlb/bound-node3-net4026531833.json');
    expect(defaultBindStateFile('../etc/x', '1')).to.equal('/run/anchorlb/bound-..%2Fetc%2Fx-net1.json');
    expect(defaultBindStateFile('node3')).to.match(/^\/run\/anchorlb\/bound-node3-net\d+\.json$/);
  });
});

describe('speaker/bind: wanted bindings of a desired state (pure)', () => {
  it('collects L2 bindToInterfaces and BGP bound addresses, canonical', () => {
    const wanted = wantedBindings({
      l2: { announcements: new Map([['192.0.2.10', { bindToInterfaces: ['lo', 'vips0'] }], ['192.0.2.11', { bindToInterfaces: [] }]]) },
      bgp: { boundAddresses: new Map([['2001:DB8:0::5', ['lo']]]) },
    });
    expect(wanted).to.have.deep.members([
      { address: '192.0.2.10', iface: 'lo' },
      { address: '192.0.2.10', iface: 'vips0' },
      { address: '2001:db8::5', iface: 'lo' },
    ]);
    expect(wantedBindings({ l2: undefined, bgp: undefined })).to.deep.equal([]);
  });
});

describe('speaker/bind: ledger of holders (pure)', () => {
  it('two announcers holding the same address: only the last release removes it', () => {
    const ledger = new BindLedger();
    expect(ledger.acquire(vip, false)).to.deep.equal({ add: true });
    expect(ledger.acquire(vip, true)).to.deep.equal({ add: false });
    expect(ledger.release(vip)).to.deep.equal({ remove: false });
    expect(ledger.release(vip)).to.deep.equal({ remove: true });
    expect(ledger.release(vip)).to.deep.equal({ remove: false });
    expect(ledger.recorded()).to.deep.equal([]);
  });

  it('an address already on the interface (the admin\'s) is used but never removed nor recorded', () => {
    const ledger = new BindLedger();
    expect(ledger.acquire(vip, true)).to.deep.equal({ add: false });
    expect(ledger.recorded()).to.deep.equal([]);
    expect(ledger.release(vip)).to.deep.equal({ remove: false });
  });

  it('a leftover of a previous run is adopted when asked for again, and then removed on release', () => {
    const ledger = new BindLedger([vip]);
    expect(ledger.acquire(vip, true)).to.deep.equal({ add: false });
    expect(ledger.recorded()).to.deep.equal([vip]);
    expect(ledger.unwantedLeftovers([])).to.deep.equal([]);
    expect(ledger.release(vip)).to.deep.equal({ remove: true });
  });

  it('leftovers not wanted are to remove; wanted ones stay recorded', () => {
    const kept = { address: '192.0.2.201', iface: 'lo' };
    const ledger = new BindLedger([vip, kept]);
    expect(ledger.unwantedLeftovers([kept])).to.deep.equal([vip]);
    ledger.forgetLeftover(vip);
    expect(ledger.recorded()).to.deep.equal([kept]);
    expect(ledger.unwantedLeftovers([kept])).to.deep.equal([]);
  });

  it('a failed add is abandoned (not recorded); a failed removal stays recorded as a leftover', () => {
    const ledger = new BindLedger();
    ledger.acquire(vip, false);
    ledger.abandon(vip);
    expect(ledger.recorded()).to.deep.equal([]);
    expect(ledger.holders(vip)).to.equal(0);
    ledger.acquire(vip, false);
    expect(ledger.release(vip).remove).to.equal(true);
    ledger.keepAsLeftover(vip);
    expect(ledger.recorded()).to.deep.equal([vip]);
    expect(ledger.unwantedLeftovers([])).to.deep.equal([vip]);
  });

  it('property: removes an address exactly when its last holder releases it, and only if this process added or left it', () => {
    const op = fc.record({ holder: fc.constantFrom('l2', 'bgp'), acquire: fc.boolean() });
    fc.assert(
      // Where the address comes from: not there yet, put there by the admin, or left by a killed run (recorded).
      fc.property(fc.constantFrom('absent', 'admin', 'leftover'), fc.array(op, { maxLength: 40 }), (origin, ops) => {
        const ledger = new BindLedger(origin === 'leftover' ? [vip] : []);
        let present = origin !== 'absent';
        const holding = new Set<string>();
        for (const { holder, acquire } of ops) {
          // Announcers call bind once per hold and unbind only what they hold (as both do).
          if (acquire === holding.has(holder)) continue;
          if (acquire) {
            const { add } = ledger.acquire(vip, present);
            expect(add).to.equal(!present);
            present = true;
            holding.add(holder);
          } else {
            holding.delete(holder);
            const { remove } = ledger.release(vip);
            expect(remove).to.equal(holding.size === 0 && origin !== 'admin');
            if (remove) present = false;
          }
          expect(ledger.holders(vip)).to.equal(holding.size);
          if (origin === 'admin') expect(ledger.recorded()).to.deep.equal([]);
        }
      }),
    );
  });
});

describe('speaker/bind: the record on disk (files only, no addresses touched)', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'anchorlb-bind-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns what a previous run recorded as leftovers; no record is kept while nothing is bound', async () => {
    const logger = createLogger('test', 'silent');
    const first = join(dir, 'run', 'anchorlb', 'bound-node1.json');
    expect(await new Bindings().init({ stateFile: first, nodeName: 'node1', logger })).to.deep.equal([]);
    expect(existsSync(first)).to.equal(false);
    await mkdir(dirname(first), { recursive: true });
    await writeFile(first, formatBindState('node1', [vip]));
    expect(await new Bindings().init({ stateFile: first, nodeName: 'node1', logger })).to.deep.equal([vip]);
    expect(parseBindState(await readFile(first, 'utf8'), first), 'leftovers stay recorded until removed').to.deep.equal([vip]);
  });

  it('a record that cannot be written is reported at start with its file and the error', async () => {
    // A directory where the file should be: not writable, even for root.
    const file = join(dir, 'bound-node1.json');
    await mkdir(file);
    const lines: string[] = [];
    const logger = createLogger('test', 'error');
    const spied = Object.assign(Object.create(logger) as typeof logger, { error: (fields: unknown, message: string) => void lines.push(`${JSON.stringify(fields)} ${message}`) });
    await new Bindings().init({ stateFile: file, nodeName: 'node1', logger: spied });
    expect(lines.join('\n')).to.contain('bindToInterface: cannot record the bound addresses').and.contain(`cannot record the bound addresses in ${file}`).and.contain('EISDIR');
  });

  it('an unusable record is reported with its file and replaced; its addresses are left alone', async () => {
    const file = join(dir, 'bound-node1.json');
    await writeFile(file, '{"version":1,"bound":[{"address":"nope","interface":"lo"}]}');
    const lines: string[] = [];
    const logger = createLogger('test', 'error');
    const spied = Object.assign(Object.create(logger) as typeof logger, { error: (fields: unknown, message: string) => void lines.push(`${JSON.stringify(fields)} ${message}`) });
    expect(await new Bindings().init({ stateFile: file, nodeName: 'node1', logger: spied })).to.deep.equal([]);
    expect(lines.join('\n')).to.contain('bound[0]').and.contain('nope').and.contain('is not an IP address').and.contain(file);
    expect(existsSync(file), 'replaced by an empty record').to.equal(false);
  });
});
