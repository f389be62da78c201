/**
 * The PrometheusRule and the Grafana dashboard in config/monitoring, checked by Prometheus'
 * own promtool: the rules load, two alerts fire (and stay quiet) as a user expects from
 * given series, every dashboard query parses, and every anchorlb series they name is one
 * docs/metrics.md documents (the processes' scrapes are checked in the controller and
 * speaker tests).
 */
import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { REPO_ROOT } from "../../support/apiserver.ts";
import { PROMTOOL, requirePromtool } from "../../support/promtool.ts";
import { run } from "../../support/testbed.ts";

interface RuleGroup {
  name: string;
  rules: Array<{ alert?: string; record?: string; expr: string }>;
}
interface Dashboard {
  panels: Array<{
    title: string;
    targets: Array<{ refId: string; expr: string }>;
  }>;
}

const rule = parse(
  readFileSync(
    join(REPO_ROOT, "config/monitoring/prometheusrule.yaml"),
    "utf8",
  ),
) as { kind: string; spec: { groups: RuleGroup[] } };
const dashboard = JSON.parse(
  readFileSync(
    join(REPO_ROOT, "config/monitoring/grafana-dashboard.json"),
    "utf8",
  ),
) as Dashboard;
const documented = new Set(
  readFileSync(join(REPO_ROOT, "docs/metrics.md"), "utf8").match(
    /anchorlb_\w+/g,
  ),
);

/** anchorlb series a query names (histogram suffixes folded onto the histogram). */
function seriesIn(expr: string): string[] {
  return (expr.match(/anchorlb_\w+/g) ?? []).map((name) =>
    name.replace(/_(bucket|count|sum)$/, ""),
  );
}

async function promtool(args: string[]): Promise<string> {
  const result = await run([PROMTOOL, ...args], { allowFailure: true });
  if (result.code !== 0)
    throw new Error(
      `promtool ${args.join(" ")} failed:\n${result.stdout}${result.stderr}`,
    );
  return result.stdout;
}

describe("config/monitoring checked by promtool", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "anchorlb-monitoring-"));
  const rulesFile = join(dir, "rules.yaml");

  before(function () {
    requirePromtool(this);
    writeFileSync(rulesFile, stringify({ groups: rule.spec.groups }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("the PrometheusRule has the alerts of the issue and its groups pass promtool check rules", async () => {
    expect(rule.kind).to.equal("PrometheusRule");
    const alerts = rule.spec.groups.flatMap((group) =>
      group.rules.map((r) => r.alert),
    );
    expect(alerts).to.include.members([
      "AnchorLBPoolNearlyFull75",
      "AnchorLBPoolNearlyFull85",
      "AnchorLBPoolNearlyFull95",
      "AnchorLBPoolExhausted",
      "AnchorLBBGPSessionDown",
      "AnchorLBBFDSessionDown",
      "AnchorLBConfigStale",
      "AnchorLBAnnounceDrift",
      "AnchorLBFailoverOverTarget",
    ]);
    expect(await promtool(["check", "rules", rulesFile])).to.match(
      /SUCCESS: \d+ rules found/,
    );
  });

  it("promtool test rules: a full pool and a BGP session down fire their alerts; a pool with room and an Established session do not", async () => {
    const tests = {
      rule_files: [rulesFile],
      evaluation_interval: "1m",
      tests: [
        {
          interval: "1m",
          input_series: [
            {
              series: 'anchorlb_pool_addresses{pool="full",family="IPv4"}',
              values: "4x10",
            },
            {
              series:
                'anchorlb_pool_addresses_in_use{pool="full",family="IPv4"}',
              values: "4x10",
            },
            {
              series: 'anchorlb_pool_addresses{pool="roomy",family="IPv4"}',
              values: "100x10",
            },
            {
              series:
                'anchorlb_pool_addresses_in_use{pool="roomy",family="IPv4"}',
              values: "10x10",
            },
            {
              series: 'anchorlb_bgp_session_up{peer="tor",pod="speaker-a"}',
              values: "1 1 0 0 0 0 0 0 0 0",
            },
            {
              series: 'anchorlb_bgp_session_up{peer="tor",pod="speaker-b"}',
              values: "1x10",
            },
          ],
          alert_rule_test: [
            {
              eval_time: "5m",
              alertname: "AnchorLBPoolExhausted",
              exp_alerts: [
                {
                  exp_labels: {
                    severity: "critical",
                    pool: "full",
                    family: "IPv4",
                  },
                  exp_annotations: {
                    summary: "pool full has no IPv4 address left",
                    description:
                      "Every IPv4 address of pool full is assigned: a new Service waits (allocation errors by reason: anchorlb_allocation_errors_total).",
                  },
                },
              ],
            },
            {
              eval_time: "3m",
              alertname: "AnchorLBBGPSessionDown",
              exp_alerts: [],
            },
            {
              eval_time: "5m",
              alertname: "AnchorLBBGPSessionDown",
              exp_alerts: [
                {
                  exp_labels: {
                    severity: "critical",
                    peer: "tor",
                    pod: "speaker-a",
                  },
                  exp_annotations: {
                    summary: "BGP session to tor is down on speaker-a",
                    description:
                      "The node's session with BGPPeer tor has not been Established for 2 minutes: see the BGPPeer's status.nodes.",
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    const testFile = join(dir, "tests.yaml");
    writeFileSync(testFile, stringify(tests));
    expect(await promtool(["test", "rules", testFile])).to.contain("SUCCESS");
  });

  it("every dashboard query parses (as a recording rule, through promtool check rules)", async () => {
    const queries = dashboard.panels.flatMap((panel, index) =>
      panel.targets.map((target) => ({
        record: `dashboard:panel${index}_${target.refId}`,
        expr: target.expr,
      })),
    );
    expect(queries.length).to.be.greaterThan(10);
    const file = join(dir, "dashboard-queries.yaml");
    writeFileSync(
      file,
      stringify({ groups: [{ name: "dashboard", rules: queries }] }),
    );
    expect(await promtool(["check", "rules", file])).to.contain(
      `SUCCESS: ${queries.length} rules found`,
    );
  });

  it("the alerts and the dashboard name only series docs/metrics.md documents", () => {
    const named = [
      ...rule.spec.groups.flatMap((group) => group.rules.map((r) => r.expr)),
      ...dashboard.panels.flatMap((panel) =>
        panel.targets.map((target) => target.expr),
      ),
    ].flatMap(seriesIn);
    expect(named.length).to.be.greaterThan(0);
    expect(named.filter((name) => !documented.has(name))).to.deep.equal([]);
  });
});
