/**
 * AnchorLB status from the workloads' own status: Available, Progressing and
 * Degraded overall, and per component. Pure.
 */
import type { AnchorLBStatus, ComponentStatus, Condition } from '../api/index.ts';
import type { Finding } from '../doctor/checks.ts';

/** The fields of a Deployment or DaemonSet this reads (absent: not created yet). */
export interface WorkloadState {
  metadata?: { generation?: number };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    readyReplicas?: number;
    updatedReplicas?: number;
    desiredNumberScheduled?: number;
    numberReady?: number;
    updatedNumberScheduled?: number;
  };
}

interface Counts {
  desired: number;
  ready: number;
  updated: number;
  observed: boolean;
}

function deploymentCounts(deployment: WorkloadState): Counts {
  return {
    desired: deployment.spec?.replicas ?? 1,
    ready: deployment.status?.readyReplicas ?? 0,
    updated: deployment.status?.updatedReplicas ?? 0,
    observed: (deployment.status?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 1),
  };
}

function daemonSetCounts(daemonSet: WorkloadState): Counts {
  return {
    desired: daemonSet.status?.desiredNumberScheduled ?? 0,
    ready: daemonSet.status?.numberReady ?? 0,
    updated: daemonSet.status?.updatedNumberScheduled ?? 0,
    observed: (daemonSet.status?.observedGeneration ?? 0) >= (daemonSet.metadata?.generation ?? 1),
  };
}

type Verdict = { available: boolean; progressing: boolean; reason: string; message: string };

function judge(component: string, workload: WorkloadState | undefined, counts: (workload: WorkloadState) => Counts): { verdict: Verdict; counts?: Counts } {
  if (!workload) return { verdict: { available: false, progressing: true, reason: 'Creating', message: `${component} not created yet` } };
  const c = counts(workload);
  const progressing = !c.observed || c.updated < c.desired;
  const available = c.desired > 0 && c.ready >= c.desired;
  let reason = available ? 'AllReady' : 'NotReady';
  if (progressing) reason = 'RollingOut';
  else if (c.desired === 0) reason = 'NoPods';
  return { verdict: { available, progressing, reason, message: `${component}: ${c.ready}/${c.desired} ready, ${c.updated} updated` }, counts: c };
}

/** A condition list with each type replaced by `next`, keeping lastTransitionTime when the status did not change. */
function mergeConditions(previous: readonly Condition[] | undefined, next: Condition[], now: string): Condition[] {
  return next.map((condition) => {
    const old = previous?.find((candidate) => candidate.type === condition.type);
    return { ...condition, lastTransitionTime: old && old.status === condition.status && old.lastTransitionTime ? old.lastTransitionTime : now };
  });
}

function conditionsOf(verdicts: Verdict[], generation: number, applyError: string | undefined, invalid: string | undefined): Condition[] {
  const available = verdicts.every((verdict) => verdict.available);
  const progressing = verdicts.some((verdict) => verdict.progressing);
  const degraded = invalid !== undefined || applyError !== undefined || (!available && !progressing);
  const summary = verdicts.map((verdict) => verdict.message).join('; ');
  const status = (value: boolean) => (value ? 'True' : 'False') as Condition['status'];
  return [
    { type: 'Available', status: status(available), observedGeneration: generation, reason: available ? 'AllReady' : 'NotReady', message: summary },
    { type: 'Progressing', status: status(progressing), observedGeneration: generation, reason: progressing ? 'RollingOut' : 'Done', message: summary },
    {
      type: 'Degraded',
      status: status(degraded),
      observedGeneration: generation,
      reason: invalid !== undefined ? 'InvalidSpec' : applyError !== undefined ? 'ApplyFailed' : degraded ? 'NotReady' : 'AsExpected',
      message: invalid ?? applyError ?? summary,
    },
  ];
}

function componentStatus(verdict: Verdict, counts: Counts | undefined, generation: number, previous: ComponentStatus | undefined, now: string): ComponentStatus {
  const status = (value: boolean) => (value ? 'True' : 'False') as Condition['status'];
  const conditions: Condition[] = [
    { type: 'Available', status: status(verdict.available), observedGeneration: generation, reason: verdict.reason, message: verdict.message },
    { type: 'Progressing', status: status(verdict.progressing), observedGeneration: generation, reason: verdict.reason, message: verdict.message },
  ];
  return { desired: counts?.desired ?? 0, ready: counts?.ready ?? 0, conditions: mergeConditions(previous?.conditions, conditions, now) };
}

export interface StatusInput {
  generation: number;
  previous: AnchorLBStatus | undefined;
  controller: WorkloadState | undefined;
  speaker: WorkloadState | undefined;
  /** Why the last apply failed, if it did (reported as Degraded). */
  applyError?: string;
  /** The spec's problems, each naming the field and value, when it is not rendered (Degraded, reason InvalidSpec). */
  invalid?: string;
  /** What `anchorlb doctor` finds in the cluster, reported as the Conflict condition. */
  doctor?: { findings: readonly Finding[]; unreadable: readonly string[] };
  now: string;
}

/** Condition messages stay short enough for `kubectl describe`. */
const MAX_MESSAGE = 2000;

function pascalCase(check: string): string {
  return check.replace(/(^|-)([a-z])/g, (_match, _dash: string, letter: string) => letter.toUpperCase());
}

/** True when the doctor finds an error (another load balancer, overlapping ranges, …); warnings are listed either way. */
function conflictCondition(doctor: NonNullable<StatusInput['doctor']>, generation: number): Condition {
  const errors = doctor.findings.filter((finding) => finding.severity === 'error');
  const lines = [
    ...[...errors, ...doctor.findings.filter((finding) => finding.severity !== 'error')].map((finding) => `${finding.severity} ${finding.object}: ${finding.problem}; fix: ${finding.fix}`),
    ...doctor.unreadable.map((what) => `not checked: ${what}`),
  ];
  const message = lines.length > 0 ? lines.join('\n') : 'anchorlb doctor found nothing';
  let reason = 'NoConflicts';
  if (errors[0]) reason = pascalCase(errors[0].check);
  else if (doctor.findings.length > 0) reason = 'WarningsOnly';
  return {
    type: 'Conflict',
    status: errors.length > 0 ? 'True' : 'False',
    observedGeneration: generation,
    reason,
    message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message,
  };
}

export function computeStatus(input: StatusInput): AnchorLBStatus {
  const controller = judge('controller', input.controller, deploymentCounts);
  const speaker = judge('speaker', input.speaker, daemonSetCounts);
  return {
    observedGeneration: input.generation,
    conditions: mergeConditions(
      input.previous?.conditions,
      [...conditionsOf([controller.verdict, speaker.verdict], input.generation, input.applyError, input.invalid), ...(input.doctor ? [conflictCondition(input.doctor, input.generation)] : [])],
      input.now,
    ),
    controller: componentStatus(controller.verdict, controller.counts, input.generation, input.previous?.controller, input.now),
    speaker: componentStatus(speaker.verdict, speaker.counts, input.generation, input.previous?.speaker, input.now),
  };
}

/**
 * The status of an AnchorLB that is not served because an older one in the same
 * namespace is: Degraded, reason NotServed, naming the one served. Nothing else is
 * reported (the workloads are the other's).
 */
export function notServedStatus(generation: number, previous: AnchorLBStatus | undefined, served: string, now: string): AnchorLBStatus {
  const message = `AnchorLB ${served} is the oldest in this namespace and is the one served; this one is ignored (one installation per namespace): delete it, or delete ${served} to have this one served`;
  const conditions: Condition[] = [
    { type: 'Available', status: 'False', observedGeneration: generation, reason: 'NotServed', message },
    { type: 'Degraded', status: 'True', observedGeneration: generation, reason: 'NotServed', message },
  ];
  return { observedGeneration: generation, conditions: mergeConditions(previous?.conditions, conditions, now) };
}
