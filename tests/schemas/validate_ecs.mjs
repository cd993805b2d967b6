// Validates ECS documents (JSON Lines on standard input) against the Elastic Common Schema's
// published field definitions (the `EcsFlat` table of @elastic/ecs): every field must be an ECS
// field, or under a custom field set of ours (`trailhound.*`) or of Elastic's AWS integration
// (`aws.*`); its value must have the field's type; a list only where ECS allows an array; a
// categorization value (event.kind, event.category, event.type, event.outcome) one of its
// allowed values; and the required fields must be present.
// Prints one line per problem and exits 1 if any; prints "ok N" otherwise.

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

const require = createRequire(import.meta.url);
const { EcsFlat, EcsVersion } = require('@elastic/ecs');

const CUSTOM = ['trailhound.', 'aws.'];
const STRING = new Set(['keyword', 'constant_keyword', 'wildcard', 'text', 'match_only_text']);
const INTEGER = new Set(['long', 'integer', 'short', 'byte', 'unsigned_long']);
const NUMBER = new Set(['float', 'double', 'scaled_float', 'half_float']);

function leaves(value, prefix, out) {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) leaves(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.push([prefix, value]);
  }
  return out;
}

function typeProblem(def, v) {
  const t = def.type;
  if (STRING.has(t)) return typeof v === 'string' ? null : `${t} needs a string`;
  if (INTEGER.has(t)) return Number.isInteger(v) ? null : `${t} needs an integer`;
  if (NUMBER.has(t)) return typeof v === 'number' ? null : `${t} needs a number`;
  if (t === 'boolean') return typeof v === 'boolean' ? null : 'boolean needed';
  if (t === 'date') return typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? null : 'date needs an ISO 8601 string';
  if (t === 'ip') return typeof v === 'string' && isIP(v) ? null : 'ip needs an IP address';
  return null;
}

const problems = [];
const lines = readFileSync(0, 'utf8').split('\n').filter((l) => l.trim());
lines.forEach((line, i) => {
  const doc = JSON.parse(line);
  const where = `line ${i + 1}`;
  for (const [field, def] of Object.entries(EcsFlat)) {
    if (def.required && leaves(doc, '', []).every(([f]) => f !== field)) problems.push(`${where}: ${field} is required`);
  }
  for (const [field, value] of leaves(doc, '', [])) {
    if (CUSTOM.some((p) => field.startsWith(p))) continue;
    const def = EcsFlat[field];
    if (!def) {
      problems.push(`${where}: ${field} is not an ECS field`);
      continue;
    }
    const isArray = (def.normalize || []).includes('array');
    if (Array.isArray(value) && !isArray) problems.push(`${where}: ${field} is not an array field`);
    for (const v of Array.isArray(value) ? value : [value]) {
      const p = typeProblem(def, v);
      if (p) problems.push(`${where}: ${field}: ${p}, got ${JSON.stringify(v)}`);
      if (def.allowed_values && !def.allowed_values.some((a) => a.name === v)) {
        problems.push(`${where}: ${field}: ${JSON.stringify(v)} is not an allowed value`);
      }
    }
  }
  if (doc.ecs?.version !== EcsVersion) problems.push(`${where}: ecs.version ${doc.ecs?.version} is not ${EcsVersion}`);
});
for (const p of problems) console.log(p);
if (problems.length || lines.length === 0) {
  console.log(`${problems.length} problems in ${lines.length} documents`);
  process.exit(1);
}
console.log(`ok ${lines.length}`);
