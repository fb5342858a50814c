import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Form, Rules, entryNameField, inputMode, parseType, pickedRepeat, typeProblem } from '../../pwa/js/form.js';

const definition = JSON.parse(readFileSync(new URL('../../schemas/forms/household_survey.json', import.meta.url)));
const form = new Form(definition);
const message = (key) => ({ vi: `vi:${key}`, en: `en:${key}` });

test('parseType reads select lists and or_other', () => {
  assert.deepEqual(parseType('select_multiple devices or_other'), { base: 'select_multiple', listName: 'devices', orOther: true });
  assert.deepEqual(parseType('begin repeat'), { base: 'begin_repeat', listName: null, orOther: false });
});

test('the default form reads with both languages and its members repeat', () => {
  assert.deepEqual(form.languages.sort(), ['en', 'vi']);
  assert.equal(form.defaultLanguage, 'vi');
  assert.equal(form.nodes.get('members').kind, 'repeat');
  assert.deepEqual(form.fields.age, ['members']);
});

test('settle sizes the roster to the residents and calculates each age', () => {
  const rules = new Rules(form, { today: '2026-11-20' });
  const data = rules.settle({ outcome: 'completed', consent: 'yes', residents: 3,
    members: [{ birth_year: 1990 }] });
  assert.equal(data.members.length, 3);
  assert.equal(data.members[0].age, 36);
  assert.equal(data.members[1].age, undefined);
});

test('settle drops answers to questions that no longer apply', () => {
  const rules = new Rules(form, { today: '2026-11-20' });
  const data = rules.settle({ outcome: 'nobody_home', consent: 'yes', head_name: 'X', residents: 2 });
  assert.equal(data.head_name, undefined);
  assert.equal(data.members, undefined);
  assert.equal(data.outcome, 'nobody_home');
});

test('check names the missing question inside a member, with the catalogue words', () => {
  const rules = new Rules(form, { today: '2026-11-20' });
  const data = rules.settle({ outcome: 'completed', consent: 'yes', respondent_name: 'A', head_name: 'A',
    address: 'B', residents: 1, devices: ['smartphone'], internet: 'fibre', zalo_group: 'no',
    sells_online: 'no', support_given: 'no', members: [{ member_name: 'A', relation: 'head',
      sex: 'female', birth_year: 2020, answered_by: 'proxy' }] });
  assert.deepEqual(rules.check(data, message), {});
  delete data.members[0].sex;
  const errors = rules.check(data, message);
  assert.deepEqual(Object.keys(errors), ['members[0].sex']);
  assert.equal(errors['members[0].sex'][0].code, 'required');
});

test('type rules match the server: integers, choices, dates, photos', () => {
  const residents = form.nodes.get('residents');
  assert.equal(typeProblem(form, residents, 2), null);
  assert.equal(typeProblem(form, residents, 2.5), 'not_integer');
  assert.equal(typeProblem(form, residents, '2'), 'not_integer');
  const devices = form.nodes.get('devices');
  assert.equal(typeProblem(form, devices, ['smartphone', 'smartphone']), 'repeated_choice');
  assert.equal(typeProblem(form, devices, ['fax']), 'not_a_choice');
  assert.equal(typeProblem(form, { type: 'date' }, '2026-02-30x'), 'not_date');
  assert.equal(typeProblem(form, { type: 'image' }, 'a'.repeat(64)), null);
});

test('inputMode opens the number, decimal or phone keyboard where the answer needs it', () => {
  const q = (type, name, row = {}) => ({ type, name, row: { type, name, ...row } });
  assert.equal(inputMode(q('integer', 'residents')), 'numeric');
  assert.equal(inputMode(q('decimal', 'weight')), 'decimal');
  assert.equal(inputMode(q('text', 'house_no', { appearance: 'numbers' })), 'numeric');
  assert.equal(inputMode(q('text', 'id', { constraint: "regex(., '^[0-9]{12}$')" })), 'numeric');
  assert.equal(inputMode(q('text', 'pin', { constraint: "regex(., '\\d{4}')" })), 'numeric');
  for (const name of ['phone', 'contact_phone', 'so_dien_thoai', 'sdt', 'mobile_no', 'phone_number']) {
    assert.equal(inputMode(q('text', name)), 'tel', name);
  }
  assert.equal(inputMode(form.nodes.get('phone')), 'tel'); // the default survey's
  for (const name of ['phone_brand', 'telegram', 'head_name', 'notes']) assert.equal(inputMode(q('text', name)), null, name);
  assert.equal(inputMode(q('text', 'code', { constraint: "regex(., '^[A-Z]{2}[0-9]+$')" })), null);
  assert.equal(inputMode(q('select_one', 'phone')), null);
});

test('an integer bounded by a repeat count picks one of its entries, named by its first text', () => {
  const repeat = pickedRepeat(form, form.nodes.get('support_member'));
  assert.equal(repeat.name, 'members');
  assert.equal(entryNameField(repeat).name, 'member_name');
  assert.equal(pickedRepeat(form, form.nodes.get('residents')), null);
  assert.equal(pickedRepeat(form, form.nodes.get('birth_year')), null);
  const own = new Form({ settings: { form_id: 'f', version: '1' }, survey: [
    { type: 'begin_repeat', name: 'kids' }, { type: 'integer', name: 'age' }, { type: 'text', name: 'kid' },
    { type: 'integer', name: 'sibling', constraint: '. <= count(${kids})' }, { type: 'end_repeat' },
    { type: 'integer', name: 'eldest', constraint: '. >= 1 and . <= count( ${kids} )' },
    { type: 'integer', name: 'many', constraint: '. <= count(${kids}) * 2' },
  ] });
  assert.equal(pickedRepeat(own, own.nodes.get('eldest')).name, 'kids');
  assert.equal(entryNameField(own.nodes.get('kids')).name, 'kid');
  assert.equal(pickedRepeat(own, own.nodes.get('sibling')), null); // inside the repeat it counts
  assert.equal(pickedRepeat(own, own.nodes.get('many')), null);
});

test('a choice filter is worked out again whenever an answer it reads changes, in each repeat entry', () => {
  const filtered = new Form({
    settings: { form_id: 'f', version: '1' },
    survey: [
      { type: 'select_one thon', name: 'thon', label: 'Thôn' },
      { type: 'text', name: 'note', label: 'Ghi chú' },
      { type: 'begin_repeat', name: 'visits', label: 'Lần' },
      { type: 'select_one thon', name: 'other', label: 'Thôn khác' },
      { type: 'select_one ho', name: 'ho', label: 'Hộ', choice_filter: 'thon = ${other} or thon = ${thon}' },
      { type: 'end_repeat' },
    ],
    choices: [
      { list_name: 'thon', name: 'dong', label: 'Đông' }, { list_name: 'thon', name: 'tay', label: 'Tây' },
      { list_name: 'thon', name: 'bac', label: 'Bắc' },
      { list_name: 'ho', name: 'h1', label: 'A', thon: 'dong' }, { list_name: 'ho', name: 'h2', label: 'B', thon: 'tay' },
      { list_name: 'ho', name: 'h3', label: 'C', thon: 'bac' },
    ],
  });
  const rules = new Rules(filtered);
  const ho = filtered.nodes.get('ho');
  const names = (data, i) => rules.allowedChoices(ho, data, [['visits', i]]).map((c) => c.name);
  const data = { thon: 'dong', visits: [{ other: 'tay' }, { other: 'bac' }] };
  assert.deepEqual(names(data, 0), ['h1', 'h2']);
  assert.deepEqual(names(data, 1), ['h1', 'h3']);
  assert.deepEqual(names({ ...data, note: 'x' }, 1), ['h1', 'h3']);
  assert.deepEqual(names({ ...data, thon: 'tay' }, 1), ['h2', 'h3']);
  assert.deepEqual(names({ thon: 'tay', visits: [{ other: 'dong' }, { other: 'bac' }] }, 0), ['h1', 'h2']);
  assert.deepEqual(names({ thon: 'bac', visits: [{}] }, 0), ['h3']);
});
