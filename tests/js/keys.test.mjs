// The keys of a record's answers on the phone (pwa/js/form.js) against the shared case file
// (schemas/key_cases.json), which schemas/form.py passes too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Form, Rules } from '../../pwa/js/form.js';

const { cases } = JSON.parse(readFileSync(new URL('../../schemas/key_cases.json', import.meta.url), 'utf8'));

function formOf(survey) {
  return {
    settings: { form_id: 'keys', version: '1' },
    survey,
    choices: ['yes', 'no'].map((n) => ({ list_name: 'yn', name: n, label: n })),
  };
}

function walk(node, out = []) {
  for (const child of node.children) {
    out.push(child);
    if (child.kind !== 'field') walk(child, out);
  }
  return out;
}

for (const c of cases) {
  test(`keys: ${c.name}`, () => {
    const form = new Form(formOf(c.survey));
    assert.deepEqual(walk(form.root).map((n) => n.name), c.keys);
    assert.deepEqual([...form.nodes.keys()].sort(), [...c.keys].sort());
    const rules = new Rules(form, { today: '2026-11-30' });
    // The name as written stays the row's own, whatever the key.
    assert.deepEqual(walk(form.root).map((n) => String(n.row.name)), c.keys.map((k) => k.split('/').pop()));
    const data = rules.settle(structuredClone(c.data));
    if (c.settled) assert.deepEqual(data, c.settled);
    assert.deepEqual(Object.keys(rules.check(data, (code) => code)).sort(), [...c.errors].sort());
  });
}
