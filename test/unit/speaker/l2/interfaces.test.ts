import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverInterfaces, isAnnounceable } from '../../../../src/speaker/l2/interfaces.ts';

describe('speaker/l2: interface discovery', () => {
  let sysfs: string;
  const link = (name: string, type: number, flags: number, master?: string): void => {
    mkdirSync(join(sysfs, name));
    writeFileSync(join(sysfs, name, 'type'), `${type}\n`);
    writeFileSync(join(sysfs, name, 'flags'), `0x${flags.toString(16)}\n`);
    if (master) symlinkSync(join(sysfs, master), join(sysfs, name, 'master'));
  };

  beforeEach(() => {
    sysfs = mkdtempSync(join(tmpdir(), 'anchorlb-sysfs-'));
  });
  afterEach(() => rmSync(sysfs, { recursive: true, force: true }));

  it('takes up Ethernet interfaces that do ARP and are nobody\'s port; leaves loopback, down, NOARP, non-Ethernet and enslaved ones', () => {
    link('lo', 772, 0x9);
    link('eth1', 1, 0x1003);
    link('eth0', 1, 0x1003);
    link('eth2', 1, 0x1002); // down
    link('dummy0', 1, 0x83); // NOARP
    link('wg0', 65534, 0x91); // no link layer
    link('br0', 1, 0x1003);
    link('eth3', 1, 0x1003, 'br0');
    expect(discoverInterfaces(sysfs)).to.deep.equal(['br0', 'eth0', 'eth1']);
  });

  it('judges one link from its facts', () => {
    expect(isAnnounceable({ name: 'eth0', type: 1, flags: 0x1003, enslaved: false })).to.equal(true);
    expect(isAnnounceable({ name: 'eth0', type: 1, flags: 0x1003, enslaved: true })).to.equal(false);
  });
});
