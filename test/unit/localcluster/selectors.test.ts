import { expect } from 'chai';
import fc from 'fast-check';
import { ApiError } from '../../../src/localcluster/errors.ts';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from '../../../src/localcluster/selectors.ts';
import type { KubeObject } from '../../../src/localcluster/types.ts';

const labels = { app: 'web', tier: 'front', 'anchorlb.io/pool': 'public' };

function matches(selector: string, subject: Record<string, string> | undefined = labels): boolean {
  return matchesLabels(parseLabelSelector(selector), subject);
}

describe('localcluster label and field selectors', () => {
  it('matches every label selector operator', () => {
    expect(matches('app=web')).to.equal(true);
    expect(matches('app==web')).to.equal(true);
    expect(matches('app!=web')).to.equal(false);
    expect(matches('app!=db')).to.equal(true);
    expect(matches('missing!=x')).to.equal(true);
    expect(matches('tier in (front, back)')).to.equal(true);
    expect(matches('tier notin (front)')).to.equal(false);
    expect(matches('missing notin (x)')).to.equal(true);
    expect(matches('anchorlb.io/pool')).to.equal(true);
    expect(matches('!anchorlb.io/pool')).to.equal(false);
    expect(matches('!missing')).to.equal(true);
    expect(matches('app=web,tier in (front),!missing')).to.equal(true);
    expect(matches('app=web,tier=back')).to.equal(false);
    expect(matches('')).to.equal(true);
    expect(matchesLabels(parseLabelSelector('app'), undefined)).to.equal(false);
  });

  it('refuses a malformed selector with a 400 naming it', () => {
    for (const bad of ['app=we b', 'in (a)', '-bad=x', 'app=(x)']) {
      expect(() => parseLabelSelector(bad), bad).to.throw(ApiError).with.property('code', 400);
    }
    expect(() => parseLabelSelector('bad key=x')).to.throw(/bad key=x/);
  });

  it('parses a selector of random equality terms into one requirement per term (property)', () => {
    const key = fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/);
    fc.assert(
      fc.property(fc.dictionary(key, key, { minKeys: 1 }), (pairs) => {
        const selector = Object.entries(pairs).map(([k, v]) => `${k}=${v}`).join(',');
        expect(parseLabelSelector(selector)).to.have.lengthOf(Object.keys(pairs).length);
        expect(matchesLabels(parseLabelSelector(selector), pairs)).to.equal(true);
      }),
    );
  });

  it('matches field selectors on nested fields, missing fields reading as empty', () => {
    const event = { apiVersion: 'v1', kind: 'Event', metadata: { name: 'e', namespace: 'ns' }, involvedObject: { kind: 'Service', name: 'web' } } as KubeObject;
    expect(matchesFields(parseFieldSelector('involvedObject.kind=Service,metadata.namespace==ns'), event)).to.equal(true);
    expect(matchesFields(parseFieldSelector('involvedObject.name!=web'), event)).to.equal(false);
    expect(matchesFields(parseFieldSelector('spec.nodeName='), event)).to.equal(true);
    expect(() => parseFieldSelector('metadata.name')).to.throw(/"metadata.name" is not of the form field=value/);
  });
});
