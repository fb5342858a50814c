// Which question names a repeat's entries on the phone (pwa/js/form.js), against the shared case
// file (schemas/entry_name_cases.json), which schemas/form.py passes too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Form, entryName, entryNameField } from '../../pwa/js/form.js';

const { cases } = JSON.parse(readFileSync(new URL('../../schemas/entry_name_cases.json', import.meta.url), 'utf8'));

for (const c of cases) {
  test(`entry names: ${c.name}`, () => {
    const form = new Form({ settings: { form_id: 'names', version: '1' }, survey: c.survey, choices: [] });
    const repeat = form.nodes.get(c.repeat);
    assert.equal(entryNameField(repeat)?.name ?? null, c.field);
    assert.deepEqual(c.entries.map((entry) => entryName(repeat, entry)), c.names);
  });
}
