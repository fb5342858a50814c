// Reads {form, cases: [{data, today}]} on stdin; writes, per case, the JS rules' settled data
// and errors, so pytest can hold them against the server's checker.
import { Form, Rules } from '../../pwa/js/form.js';
import { readFileSync } from 'node:fs';

const input = JSON.parse(readFileSync(0, 'utf8'));
const form = new Form(input.form);
const message = (key) => ({ vi: key, en: key });
const out = input.cases.map(({ data, today, settle }) => {
  const rules = new Rules(form, { today });
  const settled = settle ? rules.settle(data) : data;
  return { settled, errors: rules.check(settled, message) };
});
process.stdout.write(JSON.stringify(out));
