// A range question's parameters and answers on the phone (pwa/js/form.js) against the shared
// case file (schemas/range_cases.json), which schemas/form.py and validate.py pass too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Form, Rules, rangeParameters } from '../../pwa/js/form.js';

const cases = JSON.parse(readFileSync(new URL('../../schemas/range_cases.json', import.meta.url), 'utf8'));
const message = (key) => ({ vi: `vi:${key}`, en: `en:${key}` });

for (const c of cases.parameters) {
  test(`range parameters: ${c.name}`, () => {
    const bounds = rangeParameters(c.parameters);
    assert.deepEqual(typeof bounds === 'string' ? bounds : [bounds.start, bounds.end, bounds.step], c.bounds);
  });
}

for (const c of cases.answers) {
  test(`range answer: ${c.name}`, () => {
    const form = new Form({
      settings: { form_id: 'r', version: '1' },
      survey: [{ type: 'range', name: 'level', label: 'L', parameters: c.parameters }],
      choices: [],
    });
    const errors = new Rules(form, { today: '2026-11-20' }).check({ level: c.value }, message);
    assert.deepEqual((errors.level || []).map((e) => e.code), c.problem ? [c.problem] : []);
  });
}
