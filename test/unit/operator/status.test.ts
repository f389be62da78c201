import { expect } from 'chai';
import { computeStatus, notServedStatus, type WorkloadState } from '../../../src/operator/status.ts';

const NOW = '2026-01-01T00:00:00Z';
const LATER = '2026-01-01T00:05:00Z';

const readyDeployment: WorkloadState = { metadata: { generation: 2 }, spec: { replicas: 1 }, status: { observedGeneration: 2, readyReplicas: 1, updatedReplicas: 1 } };
const readyDaemonSet: WorkloadState = { metadata: { generation: 1 }, status: { observedGeneration: 1, desiredNumberScheduled: 3, numberReady: 3, updatedNumberScheduled: 3 } };

function condition(status: ReturnType<typeof computeStatus>, type: string) {
  return status.conditions?.find((candidate) => candidate.type === type);
}

describe('operator status', () => {
  it('is Available, not Progressing, not Degraded when every pod is ready and updated', () => {
    const status = computeStatus({ generation: 4, previous: undefined, controller: readyDeployment, speaker: readyDaemonSet, now: NOW });
    expect(['Available', 'Progressing', 'Degraded'].map((type) => condition(status, type)?.status)).to.deep.equal(['True', 'False', 'False']);
    expect(status.speaker).to.include({ desired: 3, ready: 3 });
    expect(status.observedGeneration).to.equal(4);
    expect(condition(status, 'Available')?.observedGeneration).to.equal(4);
  });

  it('is Progressing while a DaemonSet rolls and while workloads are not created', () => {
    const rolling = { ...readyDaemonSet, status: { ...readyDaemonSet.status, updatedNumberScheduled: 1, numberReady: 2 } };
    const status = computeStatus({ generation: 1, previous: undefined, controller: readyDeployment, speaker: rolling, now: NOW });
    expect(['Available', 'Progressing', 'Degraded'].map((type) => condition(status, type)?.status)).to.deep.equal(['False', 'True', 'False']);
    expect(condition(computeStatus({ generation: 1, previous: undefined, controller: undefined, speaker: undefined, now: NOW }), 'Progressing')?.status).to.equal('True');
  });

  it('is Degraded when a rolled-out workload has unready pods, or when applying failed', () => {
    const unready = { ...readyDeployment, status: { ...readyDeployment.status, readyReplicas: 0 } };
    const status = computeStatus({ generation: 1, previous: undefined, controller: unready, speaker: readyDaemonSet, now: NOW });
    expect(condition(status, 'Degraded')?.status).to.equal('True');
    expect(condition(status, 'Degraded')?.message).to.contain('controller: 0/1 ready');
    const failed = computeStatus({ generation: 1, previous: undefined, controller: readyDeployment, speaker: readyDaemonSet, applyError: 'forbidden', now: NOW });
    expect(condition(failed, 'Degraded')).to.include({ status: 'True', reason: 'ApplyFailed', message: 'forbidden' });
  });

  it('is Degraded with reason InvalidSpec and the field while an invalid spec is not rendered, even with every pod ready', () => {
    const invalid = 'spec.liveness.heartbeatInterval: "0s": must be more than 0s (the rendering of generation 1 keeps running)';
    const status = computeStatus({ generation: 2, previous: undefined, controller: readyDeployment, speaker: readyDaemonSet, invalid, now: NOW });
    expect(condition(status, 'Degraded')).to.include({ status: 'True', reason: 'InvalidSpec', message: invalid });
    expect(condition(status, 'Available')?.status).to.equal('True');
  });

  it('tells an AnchorLB that is not served which one is', () => {
    const status = notServedStatus(1, undefined, 'anchorlb-system/anchorlb', NOW);
    expect(condition(status, 'Degraded')).to.include({ status: 'True', reason: 'NotServed' });
    expect(condition(status, 'Available')).to.include({ status: 'False', reason: 'NotServed' });
    expect(condition(status, 'Degraded')?.message).to.contain('AnchorLB anchorlb-system/anchorlb is the oldest in this namespace');
    expect(condition(notServedStatus(2, status, 'anchorlb-system/anchorlb', LATER), 'Degraded')?.lastTransitionTime).to.equal(NOW);
  });

  it('keeps lastTransitionTime while a condition holds, moves it when it flips', () => {
    const first = computeStatus({ generation: 1, previous: undefined, controller: readyDeployment, speaker: readyDaemonSet, now: NOW });
    const same = computeStatus({ generation: 1, previous: first, controller: readyDeployment, speaker: readyDaemonSet, now: LATER });
    expect(same).to.deep.equal(first);
    const unready = { ...readyDaemonSet, status: { ...readyDaemonSet.status, numberReady: 1 } };
    const flipped = computeStatus({ generation: 1, previous: first, controller: readyDeployment, speaker: unready, now: LATER });
    expect(condition(flipped, 'Available')?.lastTransitionTime).to.equal(LATER);
    expect(condition(flipped, 'Progressing')?.lastTransitionTime).to.equal(NOW);
  });

  it('reports doctor findings as Conflict: True on an error, with every finding and what could not be checked', () => {
    const finding = (severity: 'error' | 'warning', object: string) => ({ check: 'rival-load-balancer' as const, severity, object, problem: 'acts on the same Services', fix: 'give it a class' });
    const conflict = (findings: ReturnType<typeof finding>[], unreadable: string[] = []) =>
      condition(computeStatus({ generation: 1, previous: undefined, controller: readyDeployment, speaker: readyDaemonSet, doctor: { findings, unreadable }, now: NOW }), 'Conflict');
    expect(conflict([])).to.include({ status: 'False', reason: 'NoConflicts' });
    expect(conflict([finding('warning', 'IPAddressPool a/b')])).to.include({ status: 'False', reason: 'WarningsOnly' });
    const found = conflict([finding('warning', 'IPAddressPool a/b'), finding('error', 'DaemonSet kube-system/kube-vip-ds')], ['/api/v1/nodes: forbidden']);
    expect(found).to.include({ status: 'True', reason: 'RivalLoadBalancer' });
    expect(found?.message?.split('\n')).to.deep.equal([
      'error DaemonSet kube-system/kube-vip-ds: acts on the same Services; fix: give it a class',
      'warning IPAddressPool a/b: acts on the same Services; fix: give it a class',
      'not checked: /api/v1/nodes: forbidden',
    ]);
  });
});
