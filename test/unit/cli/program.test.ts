import { expect } from 'chai';
import { buildProgram } from '../../../src/cli/main.ts';

describe('anchorlb command', () => {
  it('names itself and prints help listing its options', () => {
    const program = buildProgram();
    expect(program.name()).to.equal('anchorlb');
    expect(program.helpInformation()).to.contain('Bare-metal load balancer for Kubernetes');
  });
});
