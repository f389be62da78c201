/**
 * Our speaker against BIRD 2, then GoBGP, as the router (one topology; the router is
 * swapped in between). node1: eBGP AS 65001, IPv4 + IPv6 on one IPv4 session, communities;
 * node2: iBGP with local-pref.
 */
import { expect } from 'chai';
import { Testbed, waitFor, type BirdRouter, type GobgpRouter } from '../../support/testbed.ts';
import { Announcer } from './announcer.ts';
import { requireRoot } from '../../support/preconditions.ts';

const ROUTER_AS = 64512;

describe('BGP interop: our speaker → BIRD 2 and GoBGP', function () {
  this.timeout(300_000);
  let tb: Testbed;
  let speakers: Announcer[] = [];

  const node1Args = ['--local-as', '65001', '--prefix', '203.0.113.10/32', '--prefix', '2001:db8:ffff::10/128', '--community', '65001:100', '--large-community', '65001:7:8', '--med', '5', '--graceful-restart', '--restart-time', '30'];
  const startSpeakers = async (): Promise<[Announcer, Announcer]> => {
    const [n1, n2] = tb.nodes as [typeof tb.router, typeof tb.router];
    const common = ['--peer', tb.router.ipv4, '--peer-as', String(ROUTER_AS)];
    speakers = await Promise.all([
      Announcer.start(tb, n1, [...common, ...node1Args]),
      Announcer.start(tb, n2, [...common, '--local-as', String(ROUTER_AS), '--prefix', '203.0.113.20/32', '--local-pref', '250']),
    ]);
    await Promise.all(speakers.map((s) => s.established()));
    return speakers as [Announcer, Announcer];
  };
  const stopSpeakers = async (): Promise<void> => {
    await Promise.all(speakers.map((s) => s.kill()));
    speakers = [];
  };
  const neighbors = () => {
    const [n1, n2] = tb.nodes as [typeof tb.router, typeof tb.router];
    return [
      { address: n1.ipv4, asn: 65001, families: ['ipv4', 'ipv6'] as Array<'ipv4' | 'ipv6'> },
      { address: n2.ipv4, asn: ROUTER_AS },
    ];
  };

  before(async function () {
    requireRoot(this);
    tb = await Testbed.create({ nodes: 2 });
  });
  after(async () => {
    await tb?.destroy();
  });

  describe('BIRD 2', () => {
    let bird: BirdRouter;
    before(async () => {
      bird = await tb.startBird(tb.router.ns, { asn: ROUTER_AS, routerId: tb.router.ipv4, neighbors: neighbors() });
      await startSpeakers();
    });
    after(async () => {
      await stopSpeakers();
      await tb.kill(bird.bird, 'SIGTERM');
    });

    it('eBGP: BIRD has the /32 with our AS path, next hop, MED, communities and large communities', async () => {
      const text = await waitFor('route in BIRD', async () => {
        const out = await bird.birdc('show route for 203.0.113.10/32 all');
        return out.includes('BGP.as_path') && out;
      });
      expect(text).to.match(/BGP\.as_path: 65001\s*$/m);
      expect(text).to.match(/BGP\.next_hop: 192\.0\.2\.11\s*$/m);
      expect(text).to.match(/BGP\.med: 5\s*$/m);
      expect(text).to.match(/BGP\.community: \(65001,100\)/);
      expect(text).to.match(/BGP\.large_community: \(65001, 7, 8\)/);
    });

    it('IPv6 over the IPv4 session: BIRD has the /128 via our IPv6 address', async () => {
      const text = await waitFor('IPv6 route in BIRD', async () => {
        const out = await bird.birdc('show route for 2001:db8:ffff::10/128 all');
        return out.includes('BGP.next_hop') && out;
      });
      expect(text).to.contain('2001:db8::11');
    });

    it('iBGP: BIRD has our LOCAL_PREF', async () => {
      const text = await waitFor('iBGP route in BIRD', async () => {
        const out = await bird.birdc('show route for 203.0.113.20/32 all');
        return out.includes('BGP.local_pref') && out;
      });
      expect(text).to.match(/BGP\.local_pref: 250\s*$/m);
    });

    it('graceful restart: after SIGKILL BIRD keeps our route and runs the restart timer; a restart ends it', async () => {
      await speakers[0]!.kill();
      const during = await waitFor('GR active in BIRD', async () => {
        const out = await bird.birdc('show protocols all peer1');
        return out.includes('Neighbor graceful restart active') && out;
      });
      expect(during).to.match(/Restart timer:\s+\d/);
      expect(await bird.birdc('show route for 203.0.113.10/32')).to.contain('203.0.113.10/32');
      const restarted = await Announcer.start(tb, tb.nodes[0]!, ['--peer', tb.router.ipv4, '--peer-as', String(ROUTER_AS), ...node1Args, '--restarted']);
      speakers[0] = restarted;
      await restarted.established();
      await waitFor('GR over in BIRD', async () => {
        const out = await bird.birdc('show protocols all peer1');
        return out.includes('Established') && !out.includes('graceful restart active');
      });
      expect(await bird.birdc('show route for 203.0.113.10/32')).to.contain('203.0.113.10/32');
    });

    it('withdraw reaches BIRD, which still holds the other node\'s route', async () => {
      // Announced first, so the route's absence afterwards is the withdraw's doing.
      await waitFor('our route in BIRD', async () => (await bird.birdc('show route for 203.0.113.10/32')).includes('203.0.113.10/32'));
      speakers[0]!.send('withdraw 203.0.113.10/32');
      // birdc throws when BIRD does not answer, so a dead BIRD cannot pass for a withdrawn route.
      await waitFor('withdrawn from BIRD', async () => !(await bird.birdc('show route for 203.0.113.10/32')).includes('203.0.113.10/32'));
      expect(await bird.birdc('show route for 203.0.113.20/32')).to.contain('203.0.113.20/32');
      expect(bird.bird.exitCode).to.equal(null);
    });
  });

  describe('GoBGP', () => {
    let gobgp: GobgpRouter;
    before(async () => {
      gobgp = await tb.startGobgp(tb.router.ns, { asn: ROUTER_AS, routerId: tb.router.ipv4, neighbors: neighbors() });
      await startSpeakers();
    });
    after(async () => {
      await stopSpeakers();
      await tb.kill(gobgp.gobgpd, 'SIGTERM');
    });

    it('GoBGP has our IPv4 and IPv6 routes with our next hops and communities', async () => {
      const v4 = await waitFor('IPv4 route in GoBGP', async () => (await gobgp.rib('ipv4')).get('203.0.113.10/32'));
      expect(JSON.stringify(v4)).to.contain('"nexthop":"192.0.2.11"');
      // GoBGP shows communities as uint32 and large communities by field
      expect(JSON.stringify(v4)).to.contain(String(65001 * 65536 + 100));
      expect(JSON.stringify(v4)).to.match(/"ASN":65001,"LocalData1":7,"LocalData2":8/);
      const v6 = await waitFor('IPv6 route in GoBGP', async () => (await gobgp.rib('ipv6')).get('2001:db8:ffff::10/128'));
      expect(JSON.stringify(v6)).to.contain('2001:db8::11');
    });

    it('iBGP: GoBGP has our LOCAL_PREF', async () => {
      const path = await waitFor('iBGP route in GoBGP', async () => (await gobgp.rib('ipv4')).get('203.0.113.20/32'));
      expect(JSON.stringify(path)).to.match(/"type":5,"value":250/);
    });

    it('graceful restart: after SIGKILL GoBGP keeps our route as stale; the restarted speaker refreshes it', async () => {
      const node1 = tb.nodes[0]!.ipv4;
      await speakers[0]!.kill();
      const stale = await waitFor('our route stale in GoBGP', async () => {
        const paths = (await gobgp.rib('ipv4')).get('203.0.113.10/32');
        return paths?.some((path) => path.stale === true) === true && paths;
      });
      expect(JSON.stringify(stale)).to.contain(`"nexthop":"${node1}"`);
      expect((await gobgp.neighbors()).get(node1)).to.not.match(/established|^6$/i);
      const restarted = await Announcer.start(tb, tb.nodes[0]!, ['--peer', tb.router.ipv4, '--peer-as', String(ROUTER_AS), ...node1Args, '--restarted']);
      speakers[0] = restarted;
      await restarted.established();
      await waitFor('our route fresh again in GoBGP', async () => {
        const paths = (await gobgp.rib('ipv4')).get('203.0.113.10/32');
        return paths !== undefined && paths.length > 0 && paths.every((path) => path.stale !== true);
      });
    });

    it('withdraw reaches GoBGP, which still holds the other node\'s route', async () => {
      // Announced first, so the route's absence afterwards is the withdraw's doing.
      await waitFor('our route in GoBGP', async () => (await gobgp.rib('ipv4')).has('203.0.113.10/32'));
      speakers[0]!.send('withdraw 203.0.113.10/32');
      await waitFor('withdrawn from GoBGP', async () => !(await gobgp.rib('ipv4')).has('203.0.113.10/32'));
      // gobgp() throws when gobgpd does not answer: the table read is a real one.
      expect((await gobgp.rib('ipv4')).has('203.0.113.20/32')).to.equal(true);
      expect(gobgp.gobgpd.exitCode).to.equal(null);
    });
  });
});
