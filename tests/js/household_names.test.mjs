// The phone's prefilled question names are the register import's column names: one list,
// schemas/household_names.json, which server/domain/household_import.py reads itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HOUSEHOLD_QUESTIONS } from '../../pwa/js/records.js';

const names = JSON.parse(readFileSync(new URL('../../schemas/household_names.json', import.meta.url), 'utf8'));

test('the phone prefills the questions named as the register import names its columns', () => {
  assert.deepEqual(HOUSEHOLD_QUESTIONS, { head_name: names.head_name, address: names.address });
});
