import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { parse, parseAllDocuments } from 'yaml';
import { checkPrinterColumns, crdSchemaOf, findDrift, lintCrdSchema, lintSchemaSet, renderOutputs, writeOutputs } from '../../../src/schemas/generate.ts';
import { loadSchemas, type SchemaNode } from '../../../src/schemas/load.ts';
import { createAjv } from '../../../src/api/schema.ts';
import fc from 'fast-check';
import { FAMILY_BITS, KINDS, PLURALS, WELL_KNOWN_COMMUNITIES, formatIP, formatRange, type IPFamily, type KindName } from '../../../src/api/index.ts';
import { FORMAT_CHECKS } from '../../../src/api/formats.ts';
import { rangesOverlap } from '../../../src/api/net.ts';
import { validateRules } from '../../../src/localcluster/cel.ts';
import { dereference } from '../../../src/schemas/load.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const schemaDir = join(repoRoot, 'src/schemas');
const run = promisify(execFile);

/** A temporary tree holding a copy of the schemas, removed after each test. */
function copyOfSchemas(): string {
  const root = mkdtempSync(join(tmpdir(), 'anchorlb-gen-'));
  cpSync(schemaDir, join(root, 'src/schemas'), { recursive: true, filter: (source) => !source.includes('generated') });
  // What scripts/gen.ts builds the bundle and the chart from, besides the CRDs.
  for (const source of ['package.json', 'config', 'bundle/icon.svg']) cpSync(join(repoRoot, source), join(root, source), { recursive: true });
  return root;
}

function editSchema(root: string, file: string, edit: (schema: SchemaNode) => void): void {
  const path = join(root, 'src/schemas', file);
  const schema = JSON.parse(readFileSync(path, 'utf8')) as SchemaNode;
  edit(schema);
  writeFileSync(path, JSON.stringify(schema, null, 2));
}

function specProperties(schema: SchemaNode): Record<string, SchemaNode> {
  return ((schema.properties as Record<string, SchemaNode>).spec as SchemaNode).properties as Record<string, SchemaNode>;
}

describe('schema lint', () => {
  it('passes every schema of the repository', () => {
    expect(lintSchemaSet(loadSchemas())).to.deep.equal([]);
  });

  it('refuses each keyword Kubernetes rejects in a CRD schema, naming where it is', () => {
    const bad: SchemaNode = {
      type: 'object',
      properties: {
        ref: { $ref: '#/definitions/Missing' },
        pattern: { type: 'object', patternProperties: { '^a': { type: 'string' } } },
        unique: { type: 'array', uniqueItems: true, items: { type: 'string' } },
        union: { type: ['string', 'null'] },
        fixed: { type: 'string', const: 'x' },
        conditional: { type: 'object', if: { type: 'object' }, then: { type: 'object' } },
        mixed: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false },
        exclusive: { type: 'integer', exclusiveMinimum: 0 },
        untyped: { description: 'no type' },
        listMap: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], items: { type: 'object', properties: { name: { type: 'string' } } } },
        metadata: { type: 'object', description: 'Standard object metadata.' },
      },
    };
    const problems = lintCrdSchema(bad);
    const expectations: [string, string][] = [
      ['/properties/ref', '$ref "#/definitions/Missing" left undereferenced'],
      ['/properties/pattern', 'patternProperties'],
      ['/properties/unique', 'uniqueItems'],
      ['/properties/union', 'type arrays'],
      ['/properties/fixed', 'const'],
      ['/properties/conditional', 'keyword if'],
      ['/properties/conditional', 'keyword then'],
      ['/properties/mixed', 'properties and additionalProperties'],
      ['/properties/exclusive', 'exclusiveMinimum must be a boolean'],
      ['/properties/untyped', 'no type'],
      ['/properties/listMap', 'list map key "name" must be required'],
      ['/properties/metadata', 'the root metadata may only say type: object (kube-apiserver refuses description)'],
    ];
    for (const [path, text] of expectations) {
      expect(problems.some((problem) => problem.startsWith(`${path}: `) && problem.includes(text)), `${path} ${text} in ${JSON.stringify(problems)}`).to.equal(true);
    }
    expect(lintCrdSchema({ type: 'object', properties: { fine: { type: 'integer', exclusiveMinimum: true, minimum: 0 } } })).to.deep.equal([]);
  });

  it('makes generation fail when a schema uses a refused keyword', async () => {
    const root = copyOfSchemas();
    try {
      editSchema(root, 'ipaddresspool.schema.json', (schema) => {
        specProperties(schema).addresses = { type: 'array', uniqueItems: true, items: { type: 'string' } };
      });
      let failure: unknown;
      await renderOutputs(join(root, 'src/schemas')).catch((error: unknown) => {
        failure = error;
      });
      expect(String(failure)).to.contain('ipaddresspool.schema.json#/properties/spec/properties/addresses: uniqueItems');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reports a $ref that does not resolve and a printer column naming no field', () => {
    const set = loadSchemas();
    const [kind] = set.kinds;
    if (!kind) throw new Error('no kinds');
    const broken = { ...kind, source: { ...kind.source, properties: { ...(kind.source.properties as SchemaNode), extra: { $ref: 'common.schema.json#/definitions/Nope' } } } };
    expect(lintSchemaSet({ common: set.common, kinds: [broken] }).join('\n')).to.contain('/properties/extra: $ref "common.schema.json#/definitions/Nope" left undereferenced');
    const badColumn = { ...kind, meta: { ...kind.meta, printerColumns: [{ name: 'Ghost', type: 'string' as const, jsonPath: '.status.ghost' }] } };
    expect(checkPrinterColumns(badColumn, set.common)).to.deep.equal([`${kind.file}: printer column Ghost: .status.ghost is not a field of the schema`]);
  });
});

describe('generator drift check', () => {
  let root = '';
  beforeEach(() => {
    root = copyOfSchemas();
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('finds nothing stale right after generating', async () => {
    const outputs = await renderOutputs(join(root, 'src/schemas'));
    writeOutputs(root, outputs);
    expect(findDrift(root, outputs)).to.deep.equal([]);
  });

  it('names the CRD and the types when a schema changes, missing files, and CRDs no schema produces', async () => {
    writeOutputs(root, await renderOutputs(join(root, 'src/schemas')));
    editSchema(root, 'bfdprofile.schema.json', (schema) => {
      specProperties(schema).detectMultiplier = { type: 'integer', minimum: 2, maximum: 255, description: 'changed' };
    });
    rmSync(join(root, 'crds/anchorlb.io_communities.yaml'));
    writeFileSync(join(root, 'crds/anchorlb.io_leftovers.yaml'), 'kind: CustomResourceDefinition\n');
    const drift = findDrift(root, await renderOutputs(join(root, 'src/schemas')));
    expect(drift).to.have.members([
      'crds/anchorlb.io_bfdprofiles.yaml (differs)',
      'src/schemas/generated/types.ts (differs)',
      'crds/anchorlb.io_communities.yaml (missing)',
      'crds/anchorlb.io_leftovers.yaml (nothing generates it)',
    ]);
  });

  it('gen --check exits non-zero naming the stale file, zero once regenerated, non-zero on a lint failure', async function () {
    // Four runs of the generator in child processes.
    this.timeout(120_000);
    const gen = join(repoRoot, 'scripts/gen.ts');
    const tsx = join(repoRoot, 'node_modules/.bin/tsx');
    writeOutputs(root, await renderOutputs(join(root, 'src/schemas')));
    editSchema(root, 'community.schema.json', (schema) => {
      schema.description = 'edited without regenerating';
    });
    let failure: { code?: number; stderr?: string } = {};
    await run(tsx, [gen, '--check', '--root', root]).catch((error: { code?: number; stderr?: string }) => {
      failure = error;
    });
    expect(failure.code).to.equal(1);
    expect(failure.stderr).to.contain('stale crds/anchorlb.io_communities.yaml (differs)');
    await run(tsx, [gen, '--root', root]);
    const { stdout } = await run(tsx, [gen, '--check', '--root', root]);
    expect(stdout).to.contain('up to date');
    editSchema(root, 'community.schema.json', (schema) => {
      specProperties(schema).communities = { type: ['array', 'null'] };
    });
    await run(tsx, [gen, '--check', '--root', root]).catch((error: { code?: number; stderr?: string }) => {
      failure = error;
    });
    expect(failure.code).to.equal(1);
    expect(failure.stderr).to.contain('schema lint failed');
    expect(failure.stderr).to.contain('community.schema.json#/properties/spec/properties/communities: type ["array","null"]: type arrays are not allowed');
  });

  it('the repository itself is up to date', async () => {
    expect(findDrift(repoRoot, await renderOutputs(schemaDir))).to.deep.equal([]);
  });
});

describe('generated CRDs (crds/*.yaml)', () => {
  const crdFiles = readdirSync(join(repoRoot, 'crds')).filter((file) => file.endsWith('.yaml'));
  const set = loadSchemas();

  it('one per kind', () => {
    expect(crdFiles).to.have.length(set.kinds.length);
  });

  for (const file of crdFiles) {
    it(`${file} is a structural apiextensions.k8s.io/v1 CRD with status, short names, category and working printer columns`, () => {
      const crd = parse(readFileSync(join(repoRoot, 'crds', file), 'utf8')) as SchemaNode;
      expect(crd.apiVersion).to.equal('apiextensions.k8s.io/v1');
      const spec = crd.spec as { group: string; scope: string; names: { shortNames: string[]; categories: string[]; plural: string }; versions: SchemaNode[] };
      expect(spec.group).to.equal('anchorlb.io');
      expect(spec.scope).to.equal('Namespaced');
      expect((crd.metadata as SchemaNode).name).to.equal(`${spec.names.plural}.anchorlb.io`);
      expect(spec.names.shortNames.length).to.be.at.least(1);
      expect(spec.names.categories).to.deep.equal(['anchorlb-all']);
      const [version] = spec.versions;
      expect(version?.name).to.equal('v1beta1');
      expect(version?.subresources).to.deep.equal({ status: {} });
      const schema = (version?.schema as { openAPIV3Schema: SchemaNode }).openAPIV3Schema;
      expect(lintCrdSchema(schema)).to.deep.equal([]);
      expect(JSON.stringify(schema)).to.not.match(/"format":"(?!ipv4"|ipv6"|date-time")/);
      const kind = set.kinds.find((candidate) => `anchorlb.io_${candidate.meta.plural}.yaml` === file);
      if (!kind) throw new Error(`no schema for ${file}`);
      expect(checkPrinterColumns(kind, set.common)).to.deep.equal([]);
      expect((version?.additionalPrinterColumns as unknown[]).length).to.be.at.least(2);
    });
  }

  it('the kind and plural constants of src/api match the schemas', () => {
    expect([...KINDS].sort()).to.deep.equal(set.kinds.map((kind) => kind.meta.kind).sort());
    for (const kind of set.kinds) expect(PLURALS[kind.meta.kind as KindName]).to.equal(kind.meta.plural);
  });

  it('every field has a description (kubectl explain shows it)', () => {
    const undescribed: string[] = [];
    const visit = (node: SchemaNode, path: string): void => {
      for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, SchemaNode>)) {
        if (typeof child.description !== 'string' || child.description === '') undescribed.push(`${path}.${name}`);
        visit(child, `${path}.${name}`);
      }
      if (node.items) visit(node.items as SchemaNode, `${path}[]`);
    };
    for (const kind of set.kinds) {
      // The root metadata is the API server's ObjectMeta, which kube-apiserver lets a CRD say nothing about.
      const { metadata, ...fields } = crdSchemaOf(kind, set.common).properties as Record<string, SchemaNode>;
      expect(metadata, kind.meta.kind).to.deep.equal({ type: 'object' });
      visit({ properties: fields }, kind.meta.kind);
    }
    expect(undescribed).to.deep.equal([]);
  });

  it('each CRD schema accepts the samples of its kind (what the API server will check)', () => {
    const ajv = createAjv();
    const schemas = new Map(set.kinds.map((kind) => [kind.meta.kind, crdSchemaOf(kind, set.common)]));
    const validators = new Map([...schemas].map(([kind, schema]) => [kind, ajv.compile(schema)]));
    const samples = ['ipaddresspool', 'l2advertisement', 'bgpadvertisement', 'bgppeer', 'bfdprofile', 'community', 'vipstatus', 'anchorlb', 'metallb-ported/metallb'];
    let checked = 0;
    for (const sample of samples) {
      for (const document of parseAllDocuments(readFileSync(join(repoRoot, 'config/samples', `${sample}.yaml`), 'utf8'))) {
        const object = document.toJS() as { kind: string };
        const validate = validators.get(object.kind);
        expect(validate, object.kind).to.not.equal(undefined);
        expect(validate?.(object), `${sample} ${JSON.stringify(validate?.errors)}`).to.equal(true);
        expect(validateRules(schemas.get(object.kind) ?? {}, object, undefined), `${sample}: validation rules`).to.deep.equal([]);
        checked += 1;
      }
    }
    expect(checked).to.be.at.least(17);
  });
});

describe('patterns beside our formats (what Kubernetes checks, as it ignores our formats)', () => {
  const patterns = new Map<string, string>();
  const collect = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(collect);
    if (typeof node !== 'object' || node === null) return;
    const { format, pattern } = node as SchemaNode;
    if (typeof format === 'string' && typeof pattern === 'string') {
      expect(patterns.get(format) ?? pattern, `one pattern per format (${format})`).to.equal(pattern);
      patterns.set(format, pattern);
    }
    Object.values(node).forEach(collect);
  };
  const set = loadSchemas();
  for (const kind of set.kinds) collect(dereference(kind.source, set.common));

  const ip = fc.constantFrom<IPFamily>(4, 6).chain((family) => fc.bigInt(0n, (1n << BigInt(FAMILY_BITS[family])) - 1n).map((value) => ({ family, value })));
  const durationTerm = fc.tuple(fc.nat(100000), fc.constantFrom('ns', 'us', 'µs', 'ms', 's', 'm', 'h')).map(([n, unit]) => `${n}${unit}`);
  const classic = fc.tuple(fc.nat(65535), fc.nat(65535)).map(([a, b]) => `${a}:${b}`);
  const large = fc.tuple(fc.nat(0xffffffff), fc.nat(0xffffffff), fc.nat(0xffffffff)).map(([a, b, c]) => `large:${a}:${b}:${c}`);
  const wellKnown = fc.constantFrom(...Object.keys(WELL_KNOWN_COMMUNITIES));
  const alias = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,20}$/);
  const valid: Record<string, fc.Arbitrary<string>> = {
    ip: ip.map(({ family, value }) => formatIP(family, value)),
    // Pool ranges never include IPv4-mapped IPv6 addresses (::ffff:0:0/96).
    'ip-range': fc.oneof(
      fc.tuple(ip, ip).filter(([a, b]) => a.family === b.family).map(([a, b]) => ({ family: a.family, first: a.value < b.value ? a.value : b.value, last: a.value < b.value ? b.value : a.value })),
      ip.map(({ family, value }) => ({ family, first: value, last: value })),
    )
      .filter((range) => !rangesOverlap(range, { family: 6, first: 0xffff00000000n, last: 0xffffffffffffn }))
      .chain((range) => fc.constantFrom(formatRange(range), ...(range.first === range.last ? [`${formatIP(range.family, range.first)}/${FAMILY_BITS[range.family]}`] : []))),
    'go-duration': fc.oneof(fc.constant('0'), fc.array(durationTerm, { minLength: 1, maxLength: 4 }).map((terms) => terms.join(''))),
    'bgp-community': fc.oneof(classic, large, wellKnown, alias),
    'bgp-community-value': fc.oneof(classic, large, wellKnown),
  };

  it('every custom format has a pattern', () => {
    expect([...patterns.keys()].sort()).to.deep.equal(Object.keys(valid).sort());
  });

  for (const [format, values] of Object.entries(valid)) {
    it(`${format}: the pattern accepts every value the format accepts`, () => {
      const pattern = new RegExp(patterns.get(format) ?? '^$', 'u');
      const check = FORMAT_CHECKS[format];
      fc.assert(fc.property(values, (value) => {
        expect(check?.(value), value).to.equal(undefined);
        expect(pattern.test(value), value).to.equal(true);
      }));
    });
  }
});
