import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diffLinks, readLinkState, type LinkState } from '../../../../src/speaker/l2/links.ts';

const state = (links: Record<string, number>, announceable: string[] = []): LinkState => ({ indexes: new Map(Object.entries(links)), announceable });

describe('speaker/l2/links: what changed on the node\'s links', () => {
  it('nothing changed: undefined (no re-election, no log line)', () => {
    expect(diffLinks(state({ lo: 1, eth0: 2 }, ['eth0']), state({ eth0: 2, lo: 1 }, ['eth0']))).to.equal(undefined);
  });

  it('a link added, one removed, one re-created under its name (another ifindex), the announceable set', () => {
    expect(diffLinks(state({ lo: 1, eth0: 2, eth1: 3 }, ['eth0', 'eth1']), state({ lo: 1, eth0: 7, vlan42: 8 }, ['eth0', 'vlan42']))).to.deep.equal({
      added: ['vlan42'],
      removed: ['eth1'],
      recreated: ['eth0'],
      announceable: ['eth0', 'vlan42'],
    });
  });

  it('a link that only came up (announceable now) is a change', () => {
    expect(diffLinks(state({ eth0: 2, vlan42: 8 }, ['eth0']), state({ eth0: 2, vlan42: 8 }, ['eth0', 'vlan42']))).to.deep.equal({ added: [], removed: [], recreated: [], announceable: ['eth0', 'vlan42'] });
  });

  describe('reading sysfs', () => {
    let sysfs = '';
    const link = (name: string, index: number, flags: number): void => {
      mkdirSync(join(sysfs, name));
      writeFileSync(join(sysfs, name, 'ifindex'), `${index}\n`);
      writeFileSync(join(sysfs, name, 'type'), '1\n');
      writeFileSync(join(sysfs, name, 'flags'), `0x${flags.toString(16)}\n`);
    };
    beforeEach(() => {
      sysfs = mkdtempSync(join(tmpdir(), 'anchorlb-sysfs-'));
    });
    afterEach(() => rmSync(sysfs, { recursive: true, force: true }));

    it('every link with its ifindex; the announceable ones (up, ARP) apart; a link gone mid-read is left out', () => {
      link('eth0', 2, 0x1003);
      link('vlan42', 9, 0x1002); // down
      mkdirSync(join(sysfs, 'gone'));
      expect(readLinkState(sysfs)).to.deep.equal({ indexes: new Map([['eth0', 2], ['vlan42', 9]]), announceable: ['eth0'] });
    });
  });
});
