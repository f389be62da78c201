/**
 * What `make gen` derives from crds/ and config/ for packaging: the OperatorHub bundle
 * (bundle/) and the generated half of the Helm chart (charts/anchorlb). Reads the
 * sources; the CRDs come from the caller, freshly generated, so one run is enough.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBundle, loadBundleInputs } from './bundle.ts';
import { CHART_DIR, buildChart } from './chart.ts';

/** Directories whose every YAML file is generated: a file nothing produces is stale. */
export const PACKAGING_DIRS = ['bundle/manifests', 'bundle/metadata', `${CHART_DIR}/crds`] as const;

/** Path relative to the repository root → text, given crds/ file name → text. */
export async function renderPackaging(rootDir: string, crds: ReadonlyMap<string, string>): Promise<Map<string, string>> {
  const sortedCrds = new Map([...crds].sort(([a], [b]) => a.localeCompare(b)));
  const outputs = new Map<string, string>();
  const bundleInputs = { ...(await loadBundleInputs(rootDir)), crds: sortedCrds };
  for (const [path, text] of buildBundle(bundleInputs)) outputs.set(`bundle/${path}`, text);
  const chart = buildChart({
    version: bundleInputs.version,
    crds: sortedCrds,
    operatorRbac: await readFile(join(rootDir, 'config/rbac/operator.yaml'), 'utf8'),
    manager: await readFile(join(rootDir, 'config/manager/manager.yaml'), 'utf8'),
  });
  for (const [path, text] of chart) outputs.set(path, text);
  return outputs;
}
