import { expect } from 'chai';
import { convertManifests, formatConversionProblem } from '../../../src/convert/index.ts';

function convert(text: string): { problems: string[]; notes: string[]; specs: unknown[] } {
  const result = convertManifests([{ text }]);
  return { problems: result.problems.map(formatConversionProblem), notes: result.notes, specs: result.objects.map((object) => object.spec) };
}

/**
 * The validators' own wording belongs to the API; here what matters is that each
 * problem names the right document, path and value, and that nothing else is reported.
 */
function expectProblemsAt(problems: string[], prefixes: string[]): void {
  expect(problems.length, problems.join('\n')).to.be.at.least(prefixes.length);
  for (const problem of problems) {
    expect(prefixes.some((prefix) => problem.startsWith(prefix) && problem.length > prefix.length), problem).to.equal(true);
  }
  for (const prefix of prefixes) expect(problems.some((problem) => problem.startsWith(prefix)), prefix).to.equal(true);
}

const PEER = 'apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: p, namespace: metallb-system}\n';

describe('anchorlb convert: output checked by the project validators', () => {
  it('a field our schema does not have is "not supported by anchorlb", named by its input path', () => {
    expect(convert(`${PEER}spec: {myASN: 64512, peerASN: 64513, peerAddress: 192.0.2.1, routeMap: export-only}\n`).problems).to.deep.equal([
      'document 1 (BGPPeer/p): spec.routeMap: "export-only": not supported by anchorlb',
    ]);
  });

  it('a malformed value is reported with the validator\'s reason', () => {
    expectProblemsAt(convert(`${PEER}spec: {myASN: 99999999999, peerASN: 64513, peerAddress: 192.0.2.1}\n`).problems, [
      'document 1 (BGPPeer/p): spec.myASN: 99999999999: ',
    ]);
  });

  it('objects are checked against each other: overlapping pools, a BFD profile that is not there', () => {
    const pool = (name: string, address: string): string =>
      `apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: ${name}}\nspec: {addresses: [${address}]}\n`;
    const text = [
      pool('a', '192.0.2.0/28'),
      pool('b', '192.0.2.8-192.0.2.20'),
      `${PEER}spec: {myASN: 64512, peerASN: 64513, peerAddress: 192.0.2.1, bfdProfile: missing}\n`,
      'apiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: present, namespace: metallb-system}\n',
    ].join('---\n');
    expectProblemsAt(convert(text).problems, [
      'document 1 (IPAddressPool/a): spec.addresses[0]: "192.0.2.0/28": ',
      'document 2 (IPAddressPool/b): spec.addresses[0]: "192.0.2.8-192.0.2.20": ',
      'document 3 (BGPPeer/p): spec.bfdProfile: "missing": ',
    ]);
  });

  it('an object made from the legacy ConfigMap is named in front of its path', () => {
    const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\ndata:\n  config: |\n    peers:\n    - {peer-address: 192.0.2.1, peer-asn: 64501, my-asn: 64500, hold-time: 2 minutes}\n';
    expectProblemsAt(convert(text).problems, ['document 1 (ConfigMap/config): BGPPeer/peer-1 spec.holdTime: "2 minutes": ']);
  });

  it('a document already refused is not validated again (no echo of the same mistake)', () => {
    const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\ndata:\n  config: |\n    peers:\n    - {peer-address: 192.0.2.1, my-asn: 64500}\n';
    expect(convert(text).problems).to.deep.equal(['document 1 (ConfigMap/config): data.config.peers[0].peer-asn: required']);
  });

  it('a community alias restating a well-known community is dropped with a note; one that redefines it is refused at its input index', () => {
    const text = `apiVersion: metallb.io/v1beta1
kind: Community
metadata: {name: c}
spec:
  communities:
  - {name: no-export, value: "65535:65281"}
  - {name: tenant-a, value: "64512:100"}
  - {name: no-advertise, value: "64512:1"}
`;
    const result = convert(text);
    expect(result.notes).to.deep.equal([
      'document 1 (Community/c): spec.communities[0] dropped: "no-export" = "65535:65281" is the well-known community anchorlb knows by that name',
    ]);
    expectProblemsAt(result.problems, ['document 1 (Community/c): spec.communities[2].name: "no-advertise": ']);
    const fine = convert(text.replace('  - {name: no-advertise, value: "64512:1"}\n', ''));
    expect(fine.problems).to.deep.equal([]);
    expect(fine.specs).to.deep.equal([{ communities: [{ name: 'tenant-a', value: '64512:100' }] }]);
  });
});
