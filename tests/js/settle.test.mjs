// The phone's settle (pwa/js/form.js: Rules.settle) against the shared case file
// (schemas/settle_cases.json), which schemas/settle.py must pass too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Form, Rules } from '../../pwa/js/form.js';

const suite = JSON.parse(readFileSync(new URL('../../schemas/settle_cases.json', import.meta.url), 'utf8'));

for (const c of suite.cases) {
  test(`settle: ${c.name}`, () => {
    const before = JSON.stringify(c.data);
    const rules = new Rules(new Form(c.form), { today: c.today, now: c.now });
    const settled = rules.settle(c.data);
    // Compared as it is stored and pushed: as JSON (-0 is written 0, Infinity would be null).
    assert.deepEqual(JSON.parse(JSON.stringify(settled)), c.expected);
    assert.equal(JSON.stringify(c.data), before, 'the input is not changed');
  });
}
