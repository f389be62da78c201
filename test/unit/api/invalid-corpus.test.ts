import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { formatProblem, validateManifests } from '../../../src/api/index.ts';

const corpusDir = new URL('../../data/invalid/', import.meta.url);
const files = readdirSync(corpusDir).filter((file) => file.endsWith('.yaml')).sort();

/** Each corpus file starts with `# expect: PATH` and `# message: TEXT` naming the problem it must produce. */
function expectationOf(text: string): { path: string; message: string } {
  const path = /^# expect: (.+)$/m.exec(text)?.[1];
  const message = /^# message: (.+)$/m.exec(text)?.[1];
  if (path === undefined || message === undefined) throw new Error('corpus file lacks its # expect: / # message: lines');
  return { path, message };
}

describe('invalid manifests corpus (test/data/invalid)', () => {
  it('holds at least 40 manifests', () => {
    expect(files.length).to.be.at.least(40);
  });

  for (const file of files) {
    it(`${file} is rejected with a message naming its field`, () => {
      const text = readFileSync(new URL(file, corpusDir), 'utf8');
      const expected = expectationOf(text);
      const problems = validateManifests(text).flatMap((result) => result.problems);
      const rendered = problems.map(formatProblem);
      const match = problems.find((problem) => problem.path === expected.path);
      expect(match, `no problem at ${expected.path}; got ${JSON.stringify(rendered)}`).to.not.equal(undefined);
      expect(match?.message).to.contain(expected.message);
      expect(formatProblem(match ?? { path: '', value: undefined, message: '' }).startsWith(`${expected.path}: `)).to.equal(true);
    });
  }
});
