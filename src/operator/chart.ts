/**
 * The generated half of the Helm chart (charts/anchorlb), from the same sources as
 * dist/install.yaml: crds/ (copied into the chart's crds/), config/rbac/operator.yaml
 * and the operator Deployment of config/manager/manager.yaml (made into templates:
 * the namespace becomes the release's, and the fields users set become values).
 * Comments of the sources are kept. values.yaml, _helpers.tpl, the AnchorLB template
 * and NOTES.txt are written by hand. Pure: `buildChart` takes texts, returns texts.
 */
import { Document, isScalar, isSeq, parseAllDocuments } from 'yaml';

export const CHART_DIR = 'charts/anchorlb';

export interface ChartInputs {
  version: string;
  /** crds/ file name → text. */
  crds: Map<string, string>;
  /** Text of config/rbac/operator.yaml. */
  operatorRbac: string;
  /** Text of config/manager/manager.yaml. */
  manager: string;
}

/** A placeholder the YAML printer leaves alone; replaced by template text after printing. */
type Replacement = { inline: string } | { block: (indent: string, key: string, original: string) => string[] };

class Templater {
  private readonly replacements: Replacement[] = [];

  placeholder(replacement: Replacement): string {
    this.replacements.push(replacement);
    return `__helm${this.replacements.length - 1}__`;
  }

  /** Prints a document and puts the template text in place of its placeholders. */
  print(document: Document, originals: Map<string, string>): string {
    // A document that was not the first of its file prints with a leading "---".
    const lines = document.toString({ lineWidth: 0, flowCollectionPadding: false }).replace(/^---\n/, '').split('\n');
    return lines
      .flatMap((line) => {
        const block = /^(\s*)([\w.-]+): __helm(\d+)__$/.exec(line);
        const replacement = block ? this.replacements[Number(block[3])] : undefined;
        if (block && replacement && 'block' in replacement) {
          const [, indent = '', key = ''] = block;
          return replacement.block(indent, key, originals.get(`__helm${block[3]}__`) ?? '');
        }
        // The printer may quote a placeholder (it keeps the style of the value it replaced); the template text brings its own.
        return [line.replace(/"?__helm(\d+)__"?/g, (token, index: string) => {
          const found = this.replacements[Number(index)];
          if (!found || !('inline' in found)) throw new Error(`chart: placeholder ${token} used inline`);
          return found.inline;
        })];
      })
      .join('\n')
      .replace(/\n*$/, '\n');
  }
}

function documentsOf(text: string, file: string): Document[] {
  return parseAllDocuments(text).map((document, index) => {
    const first = document.errors[0];
    if (first) throw new Error(`${file} document ${index}: ${first.message}`);
    return document;
  });
}

function kindOf(document: Document): unknown {
  return document.get('kind');
}

const RELEASE_NAMESPACE = '{{ .Release.Namespace }}';

/** `key:` followed by the value's YAML at the next indent, only when the value is set. */
function optional(valuePath: string): Replacement {
  return { block: (indent, key) => [`${indent}{{- with ${valuePath} }}`, `${indent}${key}:`, `${indent}  {{- toYaml . | nindent ${indent.length + 2} }}`, `${indent}{{- end }}`] };
}

/** `key: value` only when the (string) value is set. */
function optionalScalar(valuePath: string): Replacement {
  return { block: (indent, key) => [`${indent}{{- with ${valuePath} }}`, `${indent}${key}: {{ . | quote }}`, `${indent}{{- end }}`] };
}

/** `key:` with the value's YAML when set, otherwise what the source says. */
function overridable(valuePath: string): Replacement {
  return {
    block: (indent, key, original) => [
      `${indent}${key}:`,
      `${indent}  {{- if ${valuePath} }}`,
      `${indent}  {{- toYaml ${valuePath} | nindent ${indent.length + 2} }}`,
      `${indent}  {{- else }}`,
      ...original.trimEnd().split('\n').map((line) => `${indent}  ${line}`),
      `${indent}  {{- end }}`,
    ],
  };
}

function rbacTemplate(text: string): string {
  const templater = new Templater();
  const namespace = templater.placeholder({ inline: RELEASE_NAMESPACE });
  const printed = documentsOf(text, 'config/rbac/operator.yaml').map((document) => {
    if (document.hasIn(['metadata', 'namespace'])) document.setIn(['metadata', 'namespace'], namespace);
    const subjects = document.get('subjects');
    if (isSeq(subjects)) {
      subjects.items.forEach((_subject, index) => {
        if (document.getIn(['subjects', index, 'kind']) === 'ServiceAccount') document.setIn(['subjects', index, 'namespace'], namespace);
      });
    }
    return templater.print(document, new Map());
  });
  return printed.join('---\n');
}

function operatorTemplate(text: string): string {
  const documents = documentsOf(text, 'config/manager/manager.yaml');
  const deployment = documents.find((document) => kindOf(document) === 'Deployment');
  if (!deployment) throw new Error('config/manager/manager.yaml has no Deployment');
  const templater = new Templater();
  const originals = new Map<string, string>();
  const pod = ['spec', 'template', 'spec'];
  const container = [...pod, 'containers', 0];
  const need = (path: (string | number)[]): void => {
    if (!deployment.hasIn(path)) throw new Error(`config/manager/manager.yaml: the operator Deployment has no ${path.join('.')}`);
  };
  deployment.setIn(['metadata', 'namespace'], templater.placeholder({ inline: RELEASE_NAMESPACE }));
  need([...container, 'image']);
  deployment.setIn([...container, 'image'], templater.placeholder({ inline: '{{ include "anchorlb.image" . | quote }}' }));
  deployment.setIn([...container, 'imagePullPolicy'], templater.placeholder(optionalScalar('.Values.image.pullPolicy')));
  const args = deployment.getIn([...container, 'args']);
  const argList: unknown[] = isSeq(args) ? args.items.map((item) => (isScalar(item) ? item.value : item)) : [];
  const portFlag = argList.indexOf('--metrics-port');
  if (portFlag < 0) throw new Error('config/manager/manager.yaml: the operator container has no --metrics-port argument');
  const metricsPort = '.Values.operator.metricsPort';
  deployment.setIn([...container, 'args', portFlag + 1], templater.placeholder({ inline: `{{ ${metricsPort} | quote }}` }));
  const ports = deployment.getIn([...container, 'ports']);
  const metricsIndex = isSeq(ports) ? ports.items.findIndex((_port, index) => deployment.getIn([...container, 'ports', index, 'name']) === 'metrics') : -1;
  if (metricsIndex < 0) throw new Error('config/manager/manager.yaml: the operator container has no port named metrics');
  deployment.setIn([...container, 'ports', metricsIndex, 'containerPort'], templater.placeholder({ inline: `{{ ${metricsPort} }}` }));
  const env = deployment.getIn([...container, 'env']);
  const logLevelIndex = isSeq(env) ? env.items.findIndex((_entry, index) => deployment.getIn([...container, 'env', index, 'name']) === 'ANCHORLB_LOG_LEVEL') : -1;
  if (logLevelIndex < 0) throw new Error('config/manager/manager.yaml: the operator container has no ANCHORLB_LOG_LEVEL variable');
  deployment.setIn([...container, 'env', logLevelIndex, 'value'], templater.placeholder({ inline: '{{ .Values.logLevel | quote }}' }));
  need([...container, 'resources']);
  const resources = templater.placeholder(overridable('.Values.operator.resources'));
  originals.set(resources, printNode(deployment.getIn([...container, 'resources'])));
  deployment.setIn([...container, 'resources'], resources);
  for (const field of ['priorityClassName', 'nodeSelector', 'tolerations', 'affinity']) {
    if (deployment.hasIn([...pod, field])) throw new Error(`config/manager/manager.yaml: ${pod.join('.')}.${field} is set by the chart's values (operator.${field}); leave it out of the source`);
    const value = `.Values.operator.${field}`;
    deployment.setIn([...pod, field], templater.placeholder(field === 'priorityClassName' ? optionalScalar(value) : optional(value)));
  }
  return templater.print(deployment, originals);
}

/** A node of a document printed on its own, at column 0. */
function printNode(node: unknown): string {
  const alone = new Document();
  alone.contents = node as Document['contents'];
  return alone.toString({ lineWidth: 0 });
}

/** Chart path (relative to the repository root) → file text. */
export function buildChart(inputs: ChartInputs): Map<string, string> {
  const header = (source: string) => `# Generated by scripts/gen.ts from ${source}; do not edit.\n`;
  const files = new Map<string, string>();
  files.set(
    `${CHART_DIR}/Chart.yaml`,
    `${header('package.json')}apiVersion: v2
name: anchorlb
description: Bare-metal load balancer for Kubernetes (Layer 2 and BGP), MetalLB-compatible API
type: application
version: ${inputs.version}
appVersion: "${inputs.version}"
kubeVersion: ">=1.29.0-0"
keywords: [load balancer, bare metal, BGP, ARP, MetalLB]
`,
  );
  for (const [file, text] of inputs.crds) files.set(`${CHART_DIR}/crds/${file}`, text);
  files.set(`${CHART_DIR}/templates/operator-rbac.yaml`, header('config/rbac/operator.yaml') + rbacTemplate(inputs.operatorRbac));
  files.set(`${CHART_DIR}/templates/operator.yaml`, header('config/manager/manager.yaml (its Deployment)') + operatorTemplate(inputs.manager));
  return files;
}
