// The phone's ${name} filling (pwa/js/labels.js) against the shared case file
// (schemas/label_cases.json), which schemas/labels.py must pass too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Form, Rules } from '../../pwa/js/form.js';
import { fill, label, text } from '../../pwa/js/labels.js';

const suite = JSON.parse(readFileSync(new URL('../../schemas/label_cases.json', import.meta.url), 'utf8'));

function run(c) {
  const form = new Form(typeof c.form === 'string' ? suite.forms[c.form] : c.form);
  const data = c.settle ? new Rules(form).settle(c.data) : structuredClone(c.data);
  const position = c.position || [];
  if ('text' in c) return fill(c.text, form, data, position);
  if ('choice' in c) {
    const [list, name] = c.choice;
    return text(form, form.choices[list].find((x) => x.name === name), c.column, c.lang, data, position);
  }
  const node = form.nodes.get(c.field);
  if (c.column === 'label') return label(form, node, c.lang, data, position);
  return text(form, node.row, c.column, c.lang, data, position);
}

for (const c of suite.cases) {
  test(`labels: ${c.name}`, () => {
    const before = JSON.stringify(c.data);
    assert.equal(run(c), c.expected);
    assert.equal(JSON.stringify(c.data), before, 'the input is not changed');
  });
}
