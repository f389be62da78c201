/**
 * The life of one IP on this node's Layer 2 announcer, as a pure state machine: the caller
 * passes the time and performs the effects (sending frames, binding the address, events).
 *
 *   probing ──no answer──► announcing ──n GARP/NA sent──► announced
 *      │                       │                             │
 *      └─foreign MAC answers─► conflict ──back-off──► probing │
 *   release(): probing/conflict → released at once;          │
 *              announcing/announced → releasing ◄────────────┘
 *   releasing ──successor's GARP/NA seen, or timeout──► released
 *
 * While releasing, the node keeps answering ordinary requests (clients still send to it) but
 * no longer defends the address against probes, so the successor's probe finds it free and
 * its gratuitous ARP / unsolicited NA moves every client at once: a planned move loses nothing.
 */

export interface ClaimTiming {
  /** RFC 5227 probes / DAD solicitations before claiming; 0 claims at once. */
  probeCount: number;
  probeIntervalMs: number;
  /** Wait after the last probe for a defender's answer. */
  probeWaitMs: number;
  /** Gratuitous ARPs / unsolicited NAs sent on takeover. */
  announceCount: number;
  announceIntervalMs: number;
  /** First re-probe after a conflict; doubles on each further conflict up to the maximum. */
  conflictBackoffMs: number;
  conflictBackoffMaxMs: number;
  /** Longest a released IP is still answered while waiting for the successor's announcement. */
  releaseTimeoutMs: number;
}

/** Tuned for sub-second takeover after a crash (detection + probe wait + first GARP). */
export const DEFAULT_CLAIM_TIMING: Readonly<ClaimTiming> = {
  probeCount: 2,
  probeIntervalMs: 50,
  probeWaitMs: 100,
  announceCount: 5,
  announceIntervalMs: 100,
  conflictBackoffMs: 1_000,
  conflictBackoffMaxMs: 60_000,
  releaseTimeoutMs: 3_000,
};

export type ClaimState =
  | { phase: 'probing'; probesSent: number; nextAt: number; conflicts: number }
  | { phase: 'announcing'; announcementsSent: number; nextAt: number }
  | { phase: 'announced' }
  | { phase: 'conflict'; foreignMac: string; interface: string; conflicts: number; nextAt: number }
  | { phase: 'releasing'; nextAt: number }
  | { phase: 'released' };

export type ClaimEffect =
  | { type: 'probe' }
  /** Send GARP / unsolicited NA; `first` marks the moment the node starts answering (bind the address now). */
  | { type: 'announce'; first: boolean }
  | { type: 'conflict'; foreignMac: string; interface: string; retryInMs: number }
  /** Stop answering (and unbind). `byMac` when a successor's announcement was seen. */
  | { type: 'withdraw'; reason: 'takenOver' | 'timeout' | 'released'; byMac?: string };

export interface ClaimStep {
  state: ClaimState;
  effects: ClaimEffect[];
}

/** Checks a timing from configuration; the error names the field and the value. */
export function claimTiming(overrides: Partial<ClaimTiming> = {}): ClaimTiming {
  const timing = { ...DEFAULT_CLAIM_TIMING, ...overrides };
  for (const [field, value] of Object.entries(timing)) {
    const minimum = field === 'announceCount' ? 1 : 0;
    if (!Number.isInteger(value) || value < minimum) {
      throw new RangeError(`${field}: ${JSON.stringify(value)} must be an integer >= ${minimum}`);
    }
  }
  if (timing.conflictBackoffMaxMs < timing.conflictBackoffMs) {
    throw new RangeError(`conflictBackoffMaxMs: ${timing.conflictBackoffMaxMs} is below conflictBackoffMs ${timing.conflictBackoffMs}`);
  }
  return timing;
}

export function startClaim(now: number, timing: ClaimTiming): ClaimStep {
  return beginProbing(now, timing, 0);
}

function beginProbing(now: number, timing: ClaimTiming, conflicts: number): ClaimStep {
  if (timing.probeCount === 0) return beginAnnouncing(now, timing, true);
  return { state: { phase: 'probing', probesSent: 1, nextAt: now + (timing.probeCount === 1 ? timing.probeWaitMs : timing.probeIntervalMs), conflicts }, effects: [{ type: 'probe' }] };
}

function beginAnnouncing(now: number, timing: ClaimTiming, first: boolean): ClaimStep {
  const state: ClaimState =
    timing.announceCount === 1 ? { phase: 'announced' } : { phase: 'announcing', announcementsSent: 1, nextAt: now + timing.announceIntervalMs };
  return { state, effects: [{ type: 'announce', first }] };
}

/** Runs every step due at `now` (the caller wakes up at `nextWakeAt`, or later on a busy machine). */
export function advanceClaim(state: ClaimState, now: number, timing: ClaimTiming): ClaimStep {
  const effects: ClaimEffect[] = [];
  let current = state;
  for (let due = nextWakeAt(current); due !== undefined && due <= now; due = nextWakeAt(current)) {
    const step = stepAt(current, due, timing);
    current = step.state;
    effects.push(...step.effects);
  }
  return { state: current, effects };
}

function stepAt(state: ClaimState, now: number, timing: ClaimTiming): ClaimStep {
  switch (state.phase) {
    case 'probing':
      if (state.probesSent >= timing.probeCount) return beginAnnouncing(now, timing, true);
      return {
        state: { ...state, probesSent: state.probesSent + 1, nextAt: now + (state.probesSent + 1 === timing.probeCount ? timing.probeWaitMs : timing.probeIntervalMs) },
        effects: [{ type: 'probe' }],
      };
    case 'announcing': {
      const sent = state.announcementsSent + 1;
      return {
        state: sent >= timing.announceCount ? { phase: 'announced' } : { phase: 'announcing', announcementsSent: sent, nextAt: now + timing.announceIntervalMs },
        effects: [{ type: 'announce', first: false }],
      };
    }
    case 'conflict':
      return beginProbing(now, timing, state.conflicts);
    case 'releasing':
      return { state: { phase: 'released' }, effects: [{ type: 'withdraw', reason: 'timeout' }] };
    case 'announced':
    case 'released':
      return { state, effects: [] };
  }
}

export function nextWakeAt(state: ClaimState): number | undefined {
  return 'nextAt' in state ? state.nextAt : undefined;
}

/**
 * Another MAC says it has the IP (ARP reply or announcement, NA). While probing that is a
 * conflict: do not announce, retry after a back-off. While releasing it is the successor:
 * stop answering. While announcing or announced it is ignored (no fights; the caller counts it).
 */
export function foreignClaim(state: ClaimState, now: number, timing: ClaimTiming, foreignMac: string, interfaceName: string): ClaimStep {
  switch (state.phase) {
    case 'probing': {
      const conflicts = state.conflicts + 1;
      const retryInMs = Math.min(timing.conflictBackoffMaxMs, timing.conflictBackoffMs * 2 ** (conflicts - 1));
      return {
        state: { phase: 'conflict', foreignMac, interface: interfaceName, conflicts, nextAt: now + retryInMs },
        effects: [{ type: 'conflict', foreignMac, interface: interfaceName, retryInMs }],
      };
    }
    case 'releasing':
      return { state: { phase: 'released' }, effects: [{ type: 'withdraw', reason: 'takenOver', byMac: foreignMac }] };
    default:
      return { state, effects: [] };
  }
}

/** This node should no longer own the IP. */
export function releaseClaim(state: ClaimState, now: number, timing: ClaimTiming): ClaimStep {
  switch (state.phase) {
    case 'probing':
    case 'conflict':
      // Nothing was answered yet: nothing to hand over.
      return { state: { phase: 'released' }, effects: [] };
    case 'announcing':
    case 'announced':
      if (timing.releaseTimeoutMs === 0) return { state: { phase: 'released' }, effects: [{ type: 'withdraw', reason: 'released' }] };
      return { state: { phase: 'releasing', nextAt: now + timing.releaseTimeoutMs }, effects: [] };
    case 'releasing':
    case 'released':
      return { state, effects: [] };
  }
}

/** This node owns the IP again (wanted again while releasing, or told to re-announce): announce anew. */
export function reclaim(state: ClaimState, now: number, timing: ClaimTiming): ClaimStep {
  switch (state.phase) {
    case 'releasing':
    case 'announced':
      return beginAnnouncing(now, timing, false);
    case 'released':
      return startClaim(now, timing);
    default:
      return { state, effects: [] };
  }
}

/** Whether the node answers ordinary ARP requests / solicitations for the IP. */
export function answersRequests(state: ClaimState): boolean {
  return state.phase === 'announcing' || state.phase === 'announced' || state.phase === 'releasing';
}

/** Whether the node defends the IP against another node's probe (not while handing it over). */
export function answersProbes(state: ClaimState): boolean {
  return state.phase === 'announcing' || state.phase === 'announced';
}

/**
 * Whether NDP answers carry the override flag. Not while releasing: an answer the client
 * receives after the successor's unsolicited NA must not pull it back (RFC 4861 7.2.5: without
 * override, a different link-layer address never replaces the cached one). ARP has no flag;
 * Linux's locktime plays that role there.
 */
export function answersOverride(state: ClaimState): boolean {
  return state.phase !== 'releasing';
}
