/**
 * What `make release` checks before it lists dist/: every artifact names the same version
 * and the same image. Pure: takes the artifacts' texts, returns the problems, each naming
 * the artifact, the field and the value found.
 */
import { parse, parseAllDocuments } from 'yaml';

export interface ReleaseInputs {
  /** package.json's version. */
  version: string;
  /** dist/install.yaml. */
  installYaml: string;
  /** `helm show chart` of the packaged chart. */
  chartYaml: string;
  /** `helm template` of the packaged chart with its default values. */
  chartTemplate: string;
  /** The bundle's ClusterServiceVersion. */
  csv: string;
  /** dist/image/image.json of `make image`; undefined when the release has no image. */
  imageJson?: string;
}

/** The image every component of `version` runs. */
export function releaseImage(version: string): string {
  return `anchorlb/anchorlb:${version}`;
}

type Json = Record<string, unknown>;

function documents(text: string): Json[] {
  return parseAllDocuments(text)
    .map((document) => document.toJS() as unknown)
    .filter((value): value is Json => typeof value === 'object' && value !== null);
}

/** Every container image of a pod template, with where it is. */
function podImages(object: Json, where: string): [string, unknown][] {
  const spec = (object.spec as { template?: { spec?: { containers?: { name?: string; image?: unknown }[] } } } | undefined)?.template?.spec;
  return (spec?.containers ?? []).map((container) => [`${where} container ${container.name ?? '?'} image`, container.image]);
}

/** The images an AnchorLB (or a set of manifests) names, with where. */
function imagesOf(objects: Json[], artifact: string): [string, unknown][] {
  return objects.flatMap((object) => {
    const metadata = (object.metadata ?? {}) as { name?: string };
    const where = `${artifact}: ${String(object.kind)} ${metadata.name ?? ''}`;
    if (object.kind === 'AnchorLB') {
      const spec = (object.spec ?? {}) as { controller?: { image?: unknown }; speaker?: { image?: unknown } };
      return [
        [`${where} spec.controller.image`, spec.controller?.image],
        [`${where} spec.speaker.image`, spec.speaker?.image],
      ] as [string, unknown][];
    }
    return podImages(object, where);
  });
}

export function releaseProblems(inputs: ReleaseInputs): string[] {
  const { version } = inputs;
  const image = releaseImage(version);
  const problems: string[] = [];
  const expect = (where: string, found: unknown, wanted: string) => {
    if (found !== wanted) problems.push(`${where}: ${JSON.stringify(found)}, not ${JSON.stringify(wanted)}`);
  };
  for (const [where, found] of imagesOf(documents(inputs.installYaml), 'install.yaml')) expect(where, found, image);
  const chart = parse(inputs.chartYaml) as Json;
  expect('chart: Chart.yaml version', chart.version, version);
  expect('chart: Chart.yaml appVersion', chart.appVersion, version);
  const rendered = documents(inputs.chartTemplate);
  if (!rendered.some((object) => object.kind === 'AnchorLB')) problems.push('chart: helm template renders no AnchorLB with its default values');
  for (const [where, found] of imagesOf(rendered, 'chart')) expect(where, found, image);
  const csv = parse(inputs.csv) as Json;
  const csvMetadata = (csv.metadata ?? {}) as { name?: unknown; annotations?: Record<string, string> };
  const csvSpec = (csv.spec ?? {}) as { version?: unknown; install?: { spec?: { deployments?: { name?: string; spec?: Json }[] } } };
  expect('bundle: ClusterServiceVersion spec.version', csvSpec.version, version);
  expect('bundle: ClusterServiceVersion metadata.name', csvMetadata.name, `anchorlb.v${version}`);
  expect('bundle: ClusterServiceVersion containerImage', csvMetadata.annotations?.containerImage, image);
  for (const deployment of csvSpec.install?.spec?.deployments ?? []) {
    for (const [where, found] of podImages(deployment.spec ?? {}, `bundle: deployment ${deployment.name ?? '?'}`)) expect(where, found, image);
  }
  let examples: Json[] = [];
  try {
    examples = JSON.parse(csvMetadata.annotations?.['alm-examples'] ?? '[]') as Json[];
  } catch (error) {
    problems.push(`bundle: alm-examples: ${error instanceof Error ? error.message : String(error)}`);
  }
  for (const [where, found] of imagesOf(examples.filter((example) => example.kind === 'AnchorLB'), 'bundle alm-examples')) expect(where, found, image);
  if (inputs.imageJson !== undefined) {
    const built = JSON.parse(inputs.imageJson) as { name?: unknown };
    // Container runtimes store the short name fully qualified.
    expect('image: image.json name', built.name, `docker.io/${image}`);
  }
  return problems;
}
