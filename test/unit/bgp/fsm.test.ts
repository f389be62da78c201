import { expect } from 'chai';
import fc from 'fast-check';
import { buildOpen, type BgpMessage, type OpenMessage } from '../../../src/bgp/codec/index.ts';
import { createFsm, keepaliveInterval, stateOf, step, type Fsm, type FsmAction, type FsmConfig, type FsmEvent } from '../../../src/bgp/fsm.ts';

const LOCAL_ID = '192.0.2.11';
const config: FsmConfig = {
  localOpen: buildOpen({ asn: 65001, holdTimeSec: 90, bgpIdentifier: LOCAL_ID, capabilities: [] }),
  localAsn: 65001,
  peerAsn: 64512,
  passive: false,
  connectRetrySec: 5,
  maxBackoffSec: 60,
  openHoldSec: 240,
  random: () => 0.999,
};

function peerOpen(overrides: Partial<OpenMessage> = {}, asn = 64512): OpenMessage {
  return { ...buildOpen({ asn, holdTimeSec: 9, bgpIdentifier: '192.0.2.1', capabilities: [] }), ...overrides };
}

/** Feeds events in order; returns the final FSM and every action, in order. */
function drive(fsm: Fsm, ...events: FsmEvent[]): { fsm: Fsm; actions: FsmAction[] } {
  const actions: FsmAction[] = [];
  for (const event of events) {
    const result = step(fsm, event);
    fsm = result.fsm;
    actions.push(...result.actions);
  }
  return { fsm, actions };
}

const msg = (conn: number, message: BgpMessage): FsmEvent => ({ type: 'message', conn, message });
const sent = (actions: FsmAction[]): BgpMessage[] => actions.flatMap((a) => (a.type === 'send' ? [a.message] : []));
const timer = (actions: FsmAction[], name: string): number | undefined => {
  const set = actions.filter((a): a is Extract<FsmAction, { type: 'setTimer' }> => a.type === 'setTimer' && a.timer === name);
  return set.at(-1)?.ms;
};

function established(cfg: FsmConfig = config): Fsm {
  const { fsm } = drive(createFsm(cfg), { type: 'start' }, { type: 'tcpConnected', conn: 1, outgoing: true }, msg(1, peerOpen()), msg(1, { type: 'keepalive' }));
  expect(stateOf(fsm)).to.equal('Established');
  return fsm;
}

describe('BGP FSM', () => {
  it('goes Idle → Connect → OpenSent → OpenConfirm → Established, negotiating the smaller hold time', () => {
    let fsm = createFsm(config);
    expect(stateOf(fsm)).to.equal('Idle');
    let r = drive(fsm, { type: 'start' });
    expect(stateOf(r.fsm)).to.equal('Connect');
    expect(r.actions[0]).to.deep.equal({ type: 'connect' });
    r = drive(r.fsm, { type: 'tcpConnected', conn: 1, outgoing: true });
    expect(stateOf(r.fsm)).to.equal('OpenSent');
    expect(sent(r.actions)).to.deep.equal([config.localOpen]);
    expect(timer(r.actions, 'hold')).to.equal(240_000);
    r = drive(r.fsm, msg(1, peerOpen()));
    expect(stateOf(r.fsm)).to.equal('OpenConfirm');
    expect(sent(r.actions)).to.deep.equal([{ type: 'keepalive' }]);
    expect(timer(r.actions, 'hold')).to.equal(9000);
    // keepalive = hold / 3, jittered into 0.75..1 of it
    expect(timer(r.actions, 'keepalive')).to.be.within(2250, 3000);
    r = drive(r.fsm, msg(1, { type: 'keepalive' }));
    fsm = r.fsm;
    expect(stateOf(fsm)).to.equal('Established');
    expect(r.actions).to.deep.include({ type: 'established', conn: 1, remoteOpen: peerOpen(), holdTimeSec: 9, keepaliveSec: 3 });
  });

  it('runs no hold or keepalive timer when either side proposes hold time 0', () => {
    const openSent = drive(createFsm(config), { type: 'start' }, { type: 'tcpConnected', conn: 1, outgoing: true }).fsm;
    const r = drive(openSent, msg(1, peerOpen({ holdTimeSec: 0 })));
    expect(timer(r.actions, 'hold')).to.equal(undefined);
    expect(r.actions).to.deep.include({ type: 'clearTimer', timer: 'hold' });
    const k = drive(r.fsm, msg(1, { type: 'keepalive' }), { type: 'timer', timer: 'keepalive' });
    expect(sent(k.actions)).to.deep.equal([]);
  });

  it('refuses a peer in the wrong AS with OPEN error Bad Peer AS, then backs off', () => {
    const r = drive(createFsm(config), { type: 'start' }, { type: 'tcpConnected', conn: 1, outgoing: true }, msg(1, peerOpen({}, 64999)));
    const notice = sent(r.actions).find((m) => m.type === 'notification');
    expect(notice).to.deep.include({ code: 2, subcode: 2 });
    expect(r.actions).to.deep.include({ type: 'close', conn: 1 });
    expect(stateOf(r.fsm)).to.equal('Idle');
    expect(timer(r.actions, 'idleHold')).to.be.within(3750, 5000);
  });

  describe('configured keepalive time (MetalLB keepaliveTime, FRR `timers`)', () => {
    const openConfirm = (cfg: FsmConfig, peerHold: number) =>
      drive(createFsm({ ...cfg, random: () => 0.9999999 }), { type: 'start' }, { type: 'tcpConnected', conn: 1, outgoing: true }, msg(1, peerOpen({ holdTimeSec: peerHold })));

    it('uses the configured keepalive when it is below a third of the negotiated hold time', () => {
      const r = openConfirm({ ...config, keepaliveSec: 10 }, 90);
      expect(timer(r.actions, 'keepalive')).to.equal(10_000);
      const e = drive(r.fsm, msg(1, { type: 'keepalive' }));
      expect(e.actions).to.deep.include({ type: 'established', conn: 1, remoteOpen: peerOpen({ holdTimeSec: 90 }), holdTimeSec: 90, keepaliveSec: 10 });
      // and keeps using it after every keepalive sent
      expect(timer(drive(e.fsm, { type: 'timer', timer: 'keepalive' }).actions, 'keepalive')).to.equal(10_000);
    });

    it('falls back to a third of the hold time when the peer negotiates the hold time below three keepalives', () => {
      // We propose 90 with keepalive 20; the peer proposes 9: hold 9, so keepalive 3, or it would expire.
      const r = openConfirm({ ...config, keepaliveSec: 20 }, 9);
      expect(timer(r.actions, 'hold')).to.equal(9000);
      expect(timer(r.actions, 'keepalive')).to.equal(3000);
    });

    it('sends no keepalives with a negotiated hold time of 0, whatever is configured', () => {
      const r = openConfirm({ ...config, keepaliveSec: 10 }, 0);
      expect(timer(r.actions, 'keepalive')).to.equal(undefined);
      expect(sent(drive(r.fsm, msg(1, { type: 'keepalive' }), { type: 'timer', timer: 'keepalive' }).actions)).to.deep.equal([]);
    });

    it('is never longer than a third of the hold time, nor longer than configured', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 65535 }), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }), (hold, configured) => {
          const interval = keepaliveInterval(hold, configured);
          if (hold === 0) return interval === 0;
          return interval > 0 && interval <= hold / 3 && (configured === undefined ? interval === hold / 3 : interval <= configured);
        }),
      );
    });
  });

  describe('dynamic peer AS', () => {
    const external: FsmConfig = { ...config, peerAsn: 'external' };
    it("'external' accepts any AS but ours, learnt from the OPEN", () => {
      for (const asn of [64512, 4_200_000_000]) {
        const r = drive(createFsm(external), { type: 'start' }, { type: 'tcpConnected', conn: 1, outgoing: true }, msg(1, peerOpen({}, asn)), msg(1, { type: 'keepalive' }));
        expect(stateOf(r.fsm)).to.equal('Established');
        expect(r.actions).to.deep.include({ type: 'established', conn: 1, remoteOpen: peerOpen({}, asn), holdTimeSec: 9, keepaliveSec: 3 });
      }
    });

    it("'external' refuses a peer in our own AS with Bad Peer AS", () => {
      const r = drive(createFsm(external), { type: 'start' }, { type: 'tcpConnected', conn: 1, outgoing: true }, msg(1, peerOpen({}, 65001)));
      const notice = sent(r.actions).find((m) => m.type === 'notification');
      expect(notice).to.include({ code: 2, subcode: 2 });
      expect(r.actions).to.deep.include({ type: 'error', reason: 'peer AS 65001 is not any AS but our own 65001 (dynamic external)' });
      expect(stateOf(r.fsm)).to.equal('Idle');
    });
  });

  it('rejects hold time 1 and 2 with Unacceptable Hold Time', () => {
    for (const holdTimeSec of [1, 2]) {
      const r = drive(createFsm(config), { type: 'start' }, { type: 'tcpConnected', conn: 1, outgoing: true }, msg(1, peerOpen({ holdTimeSec })));
      expect(sent(r.actions).at(-1)).to.deep.include({ type: 'notification', code: 2, subcode: 6 });
    }
  });

  it('rejects an iBGP peer using our own BGP Identifier', () => {
    const ibgp = { ...config, peerAsn: 65001 };
    const r = drive(createFsm(ibgp), { type: 'start' }, { type: 'tcpConnected', conn: 1, outgoing: true }, msg(1, peerOpen({ bgpIdentifier: LOCAL_ID }, 65001)));
    expect(sent(r.actions).at(-1)).to.deep.include({ type: 'notification', code: 2, subcode: 3 });
  });

  it('answers an unexpected message with the FSM error for the state it arrived in', () => {
    const update: BgpMessage = { type: 'update', withdrawn: [], attributes: {}, nlri: [] };
    const inOpenSent = drive(createFsm(config), { type: 'start' }, { type: 'tcpConnected', conn: 1, outgoing: true }, msg(1, update));
    expect(sent(inOpenSent.actions).at(-1)).to.deep.include({ code: 5, subcode: 1 });
    const inOpenConfirm = drive(createFsm(config), { type: 'start' }, { type: 'tcpConnected', conn: 1, outgoing: true }, msg(1, peerOpen()), msg(1, update));
    expect(sent(inOpenConfirm.actions).at(-1)).to.deep.include({ code: 5, subcode: 2 });
    const inEstablished = drive(established(), msg(1, peerOpen()));
    expect(sent(inEstablished.actions).at(-1)).to.deep.include({ code: 5, subcode: 3 });
    expect(inEstablished.actions).to.deep.include({ type: 'down', reason: 'unexpected open in Established' });
  });

  it('passes UPDATEs and ROUTE-REFRESH up and restarts the hold timer on every message', () => {
    const update: BgpMessage = { type: 'update', withdrawn: [], attributes: {}, nlri: [] };
    const r = drive(established(), msg(1, update), msg(1, { type: 'routeRefresh', afi: 1, safi: 1, subtype: 0 }));
    expect(r.actions.filter((a) => a.type === 'setTimer' && a.timer === 'hold')).to.have.length(2);
    expect(r.actions.map((a) => a.type)).to.include.members(['update', 'routeRefresh']);
  });

  it('sends Hold Timer Expired and reports the session down when the hold timer fires', () => {
    const r = drive(established(), { type: 'timer', timer: 'hold' });
    expect(sent(r.actions)).to.deep.equal([{ type: 'notification', code: 4, subcode: 0, data: Buffer.alloc(0) }]);
    expect(r.actions.map((a) => a.type)).to.include.members(['close', 'down']);
    expect(stateOf(r.fsm)).to.equal('Idle');
  });

  it('sends keepalives on the keepalive timer once the OPENs are exchanged', () => {
    const r = drive(established(), { type: 'timer', timer: 'keepalive' });
    expect(sent(r.actions)).to.deep.equal([{ type: 'keepalive' }]);
    expect(timer(r.actions, 'keepalive')).to.be.within(2250, 3000);
  });

  it('an administrative stop sends the given Cease; a graceful-restart stop sends nothing', () => {
    const cease: BgpMessage = { type: 'notification', code: 6, subcode: 2, data: Buffer.from([3, 98, 121, 101]) };
    const admin = drive(established(), { type: 'stop', notification: cease });
    expect(sent(admin.actions)).to.deep.equal([cease]);
    expect(admin.actions.map((a) => a.type)).to.include.members(['close', 'down']);
    expect(stateOf(admin.fsm)).to.equal('Idle');
    const graceful = drive(established(), { type: 'stop' });
    expect(sent(graceful.actions)).to.deep.equal([]);
    expect(graceful.actions).to.deep.include({ type: 'close', conn: 1 });
    // stopped means stopped: no timer brings it back
    expect(graceful.actions.some((a) => a.type === 'setTimer')).to.equal(false);
    expect(drive(graceful.fsm, { type: 'timer', timer: 'idleHold' }).actions).to.deep.equal([]);
  });

  it('a NOTIFICATION from the peer is never answered with one', () => {
    const r = drive(established(), msg(1, { type: 'notification', code: 6, subcode: 4, data: Buffer.alloc(0) }));
    expect(sent(r.actions)).to.deep.equal([]);
    expect(r.actions.map((a) => a.type)).to.include.members(['close', 'down']);
  });

  it('a decode error is sent back as the NOTIFICATION the codec prescribed', () => {
    const error = { code: 3, subcode: 1, data: Buffer.from([1, 2]), reason: 'bad attribute list' };
    const r = drive(established(), { type: 'decodeError', conn: 1, error });
    expect(sent(r.actions)).to.deep.equal([{ type: 'notification', code: 3, subcode: 1, data: Buffer.from([1, 2]) }]);
  });

  it('backs off exponentially on repeated connection failures, up to the maximum', () => {
    let fsm = drive(createFsm({ ...config, random: () => 0.9999999 }), { type: 'start' }).fsm;
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const failed = drive(fsm, { type: 'tcpClosed', reason: 'ECONNREFUSED' });
      expect(stateOf(failed.fsm)).to.equal('Active');
      waits.push(Math.round((timer(failed.actions, 'connectRetry') ?? 0) / 1000));
      fsm = drive(failed.fsm, { type: 'timer', timer: 'connectRetry' }).fsm;
      expect(stateOf(fsm)).to.equal('Connect');
    }
    expect(waits).to.deep.equal([5, 10, 20, 40, 60, 60]);
    // success resets the back-off
    const ok = drive(fsm, { type: 'tcpConnected', conn: 9, outgoing: true }, msg(9, peerOpen()), msg(9, { type: 'keepalive' }));
    expect(ok.fsm.failures).to.equal(0);
  });

  it('a connection attempt unanswered for the ConnectRetry time is abandoned, said, and tried again', () => {
    const r = drive(createFsm({ ...config, connectRetrySec: 7 }), { type: 'start' }, { type: 'timer', timer: 'connectRetry' });
    expect(r.actions).to.deep.include.members([
      { type: 'abortConnect' },
      { type: 'error', reason: 'no answer to the TCP connection attempt within the ConnectRetry time (7 s)' },
      { type: 'connect' },
    ]);
    expect(timer(r.actions, 'connectRetry')).to.be.within(5250, 7000);
    expect(stateOf(r.fsm)).to.equal('Connect');
  });

  it('a passive peer never connects out and accepts the peer connection', () => {
    const r = drive(createFsm({ ...config, passive: true }), { type: 'start' });
    expect(r.actions).to.deep.equal([]);
    expect(stateOf(r.fsm)).to.equal('Active');
    const c = drive(r.fsm, { type: 'tcpConnected', conn: 4, outgoing: false });
    expect(sent(c.actions)).to.deep.equal([config.localOpen]);
    expect(drive(c.fsm, { type: 'timer', timer: 'connectRetry' }).actions).to.deep.equal([]);
  });

  it('refuses connections when stopped and a second connection once Established', () => {
    expect(drive(createFsm(config), { type: 'tcpConnected', conn: 3, outgoing: false }).actions).to.deep.equal([{ type: 'close', conn: 3 }]);
    expect(drive(established(), { type: 'tcpConnected', conn: 3, outgoing: false }).actions).to.deep.equal([{ type: 'close', conn: 3 }]);
  });

  describe('connection collision (RFC 4271 §6.8)', () => {
    it('an incoming connection does not abort our own attempt (both may be racing)', () => {
      const r = drive(createFsm(config), { type: 'start' }, { type: 'tcpConnected', conn: 2, outgoing: false });
      expect(r.actions.map((a) => a.type)).to.not.include('abortConnect');
      const both = drive(r.fsm, { type: 'tcpConnected', conn: 1, outgoing: true });
      expect(sent(both.actions)).to.deep.equal([config.localOpen]);
      expect(both.fsm.connections.map((c) => c.id)).to.deep.equal([2, 1]);
    });
    function collide(localId: string): { fsm: Fsm; actions: FsmAction[] } {
      const cfg = { ...config, localOpen: { ...config.localOpen, bgpIdentifier: localId } };
      return drive(
        createFsm(cfg),
        { type: 'start' },
        { type: 'tcpConnected', conn: 1, outgoing: true },
        { type: 'tcpConnected', conn: 2, outgoing: false },
        msg(1, peerOpen()),
        msg(2, peerOpen()),
      );
    }
    it('keeps our outgoing connection when our BGP Identifier is higher', () => {
      const r = collide('192.0.2.200');
      expect(r.actions).to.deep.include({ type: 'close', conn: 2 });
      expect(r.actions).to.not.deep.include({ type: 'close', conn: 1 });
      expect(sent(r.actions)).to.deep.include({ type: 'notification', code: 6, subcode: 7, data: Buffer.alloc(0) });
      expect(r.fsm.connections.map((c) => c.id)).to.deep.equal([1]);
    });
    it("keeps the peer's connection when its BGP Identifier is higher", () => {
      const r = collide('192.0.2.0');
      expect(r.actions).to.deep.include({ type: 'close', conn: 1 });
      expect(r.fsm.connections.map((c) => c.id)).to.deep.equal([2]);
      const done = drive(r.fsm, msg(2, { type: 'keepalive' }));
      expect(stateOf(done.fsm)).to.equal('Established');
    });
  });

  it('never throws and keeps its invariants under any sequence of events', () => {
    const message = fc.constantFrom<BgpMessage>(
      peerOpen(),
      peerOpen({ holdTimeSec: 0 }),
      peerOpen({}, 1),
      { type: 'keepalive' },
      { type: 'update', withdrawn: [], attributes: {}, nlri: [] },
      { type: 'routeRefresh', afi: 1, safi: 1, subtype: 0 },
      { type: 'notification', code: 6, subcode: 2, data: Buffer.alloc(0) },
    );
    const conn = fc.integer({ min: 1, max: 3 });
    const event = fc.oneof(
      fc.constant<FsmEvent>({ type: 'start' }),
      fc.constant<FsmEvent>({ type: 'stop' }),
      fc.constantFrom<FsmEvent>(...(['connectRetry', 'hold', 'keepalive', 'idleHold'] as const).map((t) => ({ type: 'timer' as const, timer: t }))),
      fc.record({ type: fc.constant('tcpConnected' as const), conn, outgoing: fc.boolean() }),
      fc.record({ type: fc.constant('tcpClosed' as const), conn: fc.option(conn, { nil: undefined }), reason: fc.constant('test') }),
      fc.record({ type: fc.constant('message' as const), conn, message }),
    );
    fc.assert(
      fc.property(fc.boolean(), fc.array(event, { maxLength: 60 }), (passive, events) => {
        let fsm = createFsm({ ...config, passive });
        let up = false;
        for (const e of events) {
          const r = step(fsm, e);
          fsm = r.fsm;
          for (const a of r.actions) {
            if (a.type === 'established') {
              expect(up, 'established twice without down').to.equal(false);
              up = true;
            }
            if (a.type === 'down') {
              expect(up, 'down without established').to.equal(true);
              up = false;
            }
            if (a.type === 'connect') expect(passive).to.equal(false);
          }
          expect(fsm.connections.length).to.be.at.most(2);
          expect(fsm.connections.filter((c) => c.phase === 'Established').length).to.be.at.most(1);
          expect(up).to.equal(stateOf(fsm) === 'Established');
        }
      }),
      { numRuns: 2000 },
    );
  });
});
