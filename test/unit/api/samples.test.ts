import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { KINDS, formatProblem, validateManifests } from '../../../src/api/index.ts';

const samplesDir = new URL('../../../config/samples/', import.meta.url);

function yamlFiles(dir: URL): URL[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return yamlFiles(new URL(`${entry.name}/`, dir));
    return entry.name.endsWith('.yaml') ? [new URL(entry.name, dir)] : [];
  });
}

const sampleFiles = yamlFiles(samplesDir);

describe('config/samples', () => {
  for (const file of sampleFiles) {
    it(`${file.pathname.split('/config/samples/')[1]} validates`, () => {
      const results = validateManifests(readFileSync(file, 'utf8'));
      expect(results.length).to.be.at.least(1);
      for (const result of results) expect(result.problems.map(formatProblem), `${result.kind}/${result.name}`).to.deep.equal([]);
    });
  }

  it('all samples together validate (aliases, BFD profiles and pools resolve across files, no pool overlaps)', () => {
    const stream = sampleFiles.map((file) => readFileSync(file, 'utf8')).join('\n---\n');
    const problems = validateManifests(stream).flatMap((result) => result.problems.map((problem) => `${result.kind}/${result.name}: ${formatProblem(problem)}`));
    expect(problems).to.deep.equal([]);
  });

  it('has one top-level sample per kind', () => {
    const topLevel = readdirSync(samplesDir).filter((file) => file.endsWith('.yaml'));
    const kinds = topLevel.flatMap((file) => validateManifests(readFileSync(new URL(file, samplesDir), 'utf8')).map((result) => result.kind));
    expect([...kinds].sort()).to.deep.equal([...KINDS].sort());
  });

  it('the MetalLB-ported example uses every MetalLB kind', () => {
    const results = validateManifests(readFileSync(new URL('metallb-ported/metallb.yaml', samplesDir), 'utf8'));
    const kinds = new Set(results.map((result) => result.kind));
    for (const kind of ['IPAddressPool', 'L2Advertisement', 'BGPAdvertisement', 'BGPPeer', 'BFDProfile', 'Community']) expect(kinds).to.include(kind);
  });
});
