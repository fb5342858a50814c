// The form model and its rules on the phone: the JavaScript twin of schemas/form.py and
// schemas/validate.py. No DOM here, so node --test runs it as it is.
import { evaluate, evaluateBool, readsCurrent, references, toNumber } from './expr.js';
import { fill } from './labels.js';
import { rankProblem } from './rank.js';
import { GEO_TYPES, geoProblem } from './geo.js';

export const QUESTION_TYPES = new Set([
  'text', 'integer', 'decimal', 'range', 'select_one', 'select_multiple', 'rank', 'date', 'time', 'datetime',
  'geopoint', 'geotrace', 'geoshape', 'image', 'osm', 'audio', 'video', 'file', 'barcode', 'note', 'calculate', 'acknowledge', 'hidden',
  'start', 'end', 'today', 'deviceid', 'username', 'phonenumber', 'email', 'simserial', 'subscriberid',
  'audit', 'start-geopoint', 'background-geopoint',
]);
// Metadata filled with no question shown (screens/visit.js), and those a web app cannot read,
// always left empty: the same sets as schemas/form.py.
export const METADATA_TYPES = new Set(['start', 'end', 'today', 'deviceid', 'username', 'start-geopoint', 'background-geopoint']);
export const EMPTY_METADATA_TYPES = new Set(['phonenumber', 'email', 'simserial', 'subscriberid']);
// audit: the log of the volunteer's moves (audit.csv), written by the phone (pwa/js/audit.js).
export const AUTOMATIC_TYPES = new Set(['calculate', 'audit', ...METADATA_TYPES, ...EMPTY_METADATA_TYPES]);

const LANG_CODE = /\(([A-Za-z-]+)\)\s*$/;
// A choice_filter names the choices sheet's columns bare; the same rule as schemas/form.py.
const FILTER_TOKEN = /'[^']*'|"[^"]*"|\$\{[^}]*\}|[A-Za-z_][\w.-]*(\s*\()?|[\s\S]/g;
const OPERATOR_WORDS = new Set(['and', 'or', 'div', 'mod']);
export const CHOICE_PREFIX = '__choice_';
const OTHER_LABELS = { vi: 'Ghi rõ lựa chọn khác', en: 'Specify other' };
const OTHER_CHOICE = { vi: 'Khác', en: 'Other' };

/** "state = ${state}" → ["${__choice_state} = ${state}", ["state"]] */
export function choiceFilterExpression(expr) {
  const columns = [];
  const out = String(expr).replace(FILTER_TOKEN, (token, call) => {
    if (/^[A-Za-z_]/.test(token) && !call && !OPERATOR_WORDS.has(token)) {
      if (!columns.includes(token)) columns.push(token);
      return '${' + CHOICE_PREFIX + token + '}';
    }
    return token;
  });
  return [out, columns];
}
const TRUE = new Set(['yes', 'true', 'true()']);
const FALSE = new Set(['', 'no', 'false', 'false()']);

/** @param {string} raw e.g. "select_multiple devices or_other" */
export function parseType(raw) {
  const parts = String(raw || '').trim().split(/\s+/).filter(Boolean);
  if (!parts.length) return { base: '', listName: null, orOther: false };
  if ((parts[0] === 'begin' || parts[0] === 'end') && parts.length > 1) {
    return { base: `${parts[0]}_${parts[1]}`, listName: null, orOther: false };
  }
  if (parts[0] === 'select_one' || parts[0] === 'select_multiple') {
    return { base: parts[0], listName: parts[1] || null, orOther: parts[2] === 'or_other' };
  }
  if (parts[0] === 'rank') return { base: 'rank', listName: parts[1] || null, orOther: false }; // ODK's rank has no or_other
  return { base: parts[0], listName: null, orOther: false };
}

export function languageCode(suffix) {
  const m = LANG_CODE.exec(suffix);
  return m ? m[1] : suffix.trim();
}

export function isEmpty(v) {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
}

// A text question holds a phone number when its name ends with one of these words (English or
// Vietnamese, optionally followed by "number"): phone, contact_phone, so_dien_thoai, sdt,
// mobile_no; not phone_access or phone_brand.
const PHONE_NAME = /(?:^|[_.-])(?:phone|tel|telephone|mobile|sdt|dien_?thoai)(?:[_.-](?:number|no|num))?$/i;
// A constraint that only a string of digits can meet: regex(., '^0[0-9]{9}$'), regex(., '\d+').
const DIGITS_ONLY = /^regex\(\s*\.\s*,\s*(['"])\^?(?:\\d|\\\+|\[0-9\]|[0-9]|\{\d+(?:,\d*)?\}|[+*?])+\$?\1\s*\)$/;

/**
 * The keyboard a typed answer needs (the input's `inputmode`): `numeric` for an integer or a
 * text shown with `appearance=numbers` or constrained to digits, `decimal` for a decimal, `tel`
 * for a text that holds a phone number; null for the letter keyboard.
 */
export function inputMode(node) {
  if (node.type === 'integer') return 'numeric';
  if (node.type === 'decimal') return 'decimal';
  if (node.type !== 'text') return null;
  if (PHONE_NAME.test(String(node.row.name || node.name))) return 'tel';
  const appearance = String(node.row.appearance || '').toLowerCase().split(/\s+/);
  if (appearance.includes('numbers') || DIGITS_ONLY.test(String(node.row.constraint || '').trim())) return 'numeric';
  return null;
}

// ". <= count(${members})" in a constraint: the answer is the number of one of that repeat's entries.
const COUNT_BOUND = /(?:^|\band\s+)\.\s*<=\s*count\(\s*\$\{\s*([^{}\s]+)\s*\}\s*\)(?=\s*(?:$|and\b))/;

/**
 * The repeat an integer question picks an entry of, by its number (1, 2 ...): the question's
 * constraint bounds it by that repeat's count, `. >= 1 and . <= count(${members})`, and the
 * repeat is not one the question is in. The phone offers the entries by name (see entryName);
 * the answer stays the number. Null for any other question.
 */
export function pickedRepeat(form, node) {
  if (node.type !== 'integer') return null;
  const m = COUNT_BOUND.exec(String(node.row.constraint || '').trim());
  const repeat = m ? form.nodes.get(m[1]) : null;
  if (!repeat || repeat.kind !== 'repeat' || node.repeats.includes(repeat.name)) return null;
  // Its entries must be one list seen from the question: the repeats around it enclose the question too.
  return repeat.repeats.every((name, i) => node.repeats[i] === name) ? repeat : null;
}

/**
 * The question that names an entry of `repeat`: its first text question (outside inner repeats).
 * The same rule as schemas/form.py: Form.entry_name_field, held equal by schemas/entry_name_cases.json.
 */
export function entryNameField(repeat) {
  for (const child of repeat.children) {
    if (child.kind === 'field' && child.type === 'text') return child;
    if (child.kind === 'group') {
      const inner = entryNameField(child);
      if (inner) return inner;
    }
  }
  return null;
}

/** What names one entry of `repeat`: that question's answer, trimmed; '' while unanswered. */
export function entryName(repeat, entry) {
  const named = entryNameField(repeat);
  const value = named && entry && typeof entry === 'object' ? entry[named.name] : null;
  return value == null ? '' : String(value).trim();
}

/**
 * The names more than one group, repeat or question row uses (XLSForm allows one name in
 * several groups, never twice in one): their answers are keyed by path, `hh/a/age`. The same
 * rule as schemas/form.py: duplicated_names, held equal by schemas/key_cases.json.
 */
export function duplicatedNames(rows) {
  const counts = new Map();
  for (const row of rows || []) {
    const { base } = parseType(row.type);
    if (!base || base === 'end_group' || base === 'end_repeat') continue;
    const name = String(row.name || '').trim();
    if (name) counts.set(name, (counts.get(name) || 0) + 1);
  }
  return new Set([...counts].filter(([, n]) => n > 1).map(([name]) => name));
}

/** A parsed form definition (the XLSForm model as JSON). */
// A range question's parameters, as schemas/form.py reads them (schemas/range_cases.json).
const RANGE_DEFAULTS = { start: 1, end: 10, step: 1 };
export const MAX_RANGE_STEPS = 10000;
const RANGE_PARAMETER = /([A-Za-z0-9_-]+)[ \t]*=[ \t]*([^ \t\r\n]*)/g;
const RANGE_NUMBER = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$/;

/**
 * `{ start, end, step }` of a range question, or what is wrong with its parameters
 * (`not_a_number`, `step_not_positive`, `too_many_steps`): the form was refused for those.
 */
export function rangeParameters(parameters) {
  const found = { ...RANGE_DEFAULTS };
  for (const [, name, text] of String(parameters ?? '').matchAll(RANGE_PARAMETER)) {
    const key = name.toLowerCase();
    if (!Object.hasOwn(found, key)) continue;
    if (!RANGE_NUMBER.test(text) || text.length > 30) return 'not_a_number';
    found[key] = Number(text);
  }
  const { start, end, step } = found;
  if (step <= 0) return 'step_not_positive';
  if (Math.abs(end - start) / step > MAX_RANGE_STEPS) return 'too_many_steps';
  return found;
}

/** A range whose start, end and step are whole numbers answers with an integer. */
export function rangeIsWhole(bounds) {
  return [bounds.start, bounds.end, bounds.step].every(Number.isInteger);
}

/** `out_of_range` outside start..end, `off_step` off the steps from start (as the server). */
export function rangeProblem(bounds, value) {
  const { start, end, step } = bounds;
  if (!(Math.min(start, end) <= value && value <= Math.max(start, end))) return 'out_of_range';
  // Steps like 0.1 are not exact in binary: a value on a step lies within a billionth of one.
  const steps = (value - start) / step;
  return Math.abs(steps - Math.round(steps)) <= 1e-9 * Math.max(1, Math.abs(steps)) ? null : 'off_step';
}

function rangeTypeProblem(node, value) {
  const bounds = rangeParameters(node.row.parameters);
  if (typeof bounds === 'string') return null; // refused at import
  if (typeof value !== 'number') return 'not_number';
  if (rangeIsWhole(bounds) && !Number.isInteger(value)) return 'not_integer';
  if (!Number.isFinite(value)) return 'not_number';
  return rangeProblem(bounds, value);
}

export class Form {
  constructor(definition) {
    this.definition = definition;
    let settings = definition.settings || {};
    if (Array.isArray(settings)) settings = settings[0] || {};
    this.settings = settings;
    this.formId = String(settings.form_id || '').trim();
    this.version = String(settings.version || '').trim();
    this.title = settings.form_title || this.formId;
    this.choices = {};
    for (const row of definition.choices || []) {
      const list = String(row.list_name ?? '').trim();
      const name = String(row.name ?? '').trim();
      if (!list || !name) continue;
      (this.choices[list] ||= []).push({ ...row, name });
    }
    this.root = { kind: 'group', name: '', type: 'group', row: {}, repeats: [], children: [] };
    this.nodes = new Map();
    // node.name is the answer's key: the name as written, or its path when the name is used twice.
    this.duplicated = duplicatedNames(definition.survey);
    const stack = [this.root];
    const paths = [[]];
    for (const row of definition.survey || []) {
      const { base, listName, orOther } = parseType(row.type);
      if (!base) continue;
      const parent = stack[stack.length - 1];
      if (base === 'end_group' || base === 'end_repeat') { stack.pop(); paths.pop(); continue; }
      const written = String(row.name || '').trim();
      const path = [...paths[paths.length - 1], written];
      const name = this.duplicated.has(written) ? path.join('/') : written;
      const repeats = parent.kind === 'repeat' ? [...parent.repeats, parent.name] : parent.repeats;
      let node;
      if (base === 'begin_group' || base === 'begin_repeat') {
        const kind = base.slice(6);
        node = { kind, name, type: kind, row, repeats, children: [], parent };
        stack.push(node);
        paths.push(path);
      } else {
        node = { kind: 'field', name, type: base, row, repeats, listName, orOther, parent };
        if (orOther) {
          parent.children.push(node);
          this.nodes.set(name, node);
          node = this.#otherQuestion(node, parent);
        }
      }
      parent.children.push(node);
      this.nodes.set(node.name, node);
    }
    this.languages = [];
    for (const node of this.nodes.values()) {
      for (const col of Object.keys(node.row)) {
        if (col.startsWith('label::')) {
          const code = languageCode(col.split('::')[1]);
          if (!this.languages.includes(code)) this.languages.push(code);
        }
      }
    }
    this.defaultLanguage = languageCode(String(settings.default_language || ''))
      || this.languages[0] || '';
    this.fields = {};
    for (const [name, node] of this.nodes) this.fields[name] = node.repeats;
  }

  #otherQuestion(select, parent) {
    // Beside a select keyed by path (a/color) its companion is too (a/color_other), where
    // pyxform puts it in the XForm: the same rule as schemas/form.py.
    const written = `${String(select.row.name || select.name).trim()}_other`;
    const row = { type: 'text', name: written, relevant: `selected(\${${select.name}}, 'other')` };
    const labels = Object.keys(select.row).filter((c) => c.startsWith('label::'));
    for (const column of labels) row[column] = OTHER_LABELS[languageCode(column.split('::')[1])] || OTHER_LABELS.en;
    if (!labels.length) row.label = OTHER_LABELS.en;
    return { kind: 'field', name: `${select.name}_other`, type: 'text', row, repeats: select.repeats, parent };
  }

  /** The choices a select offers, with XLSForm's 'other' last for or_other. */
  choiceList(node) {
    const choices = this.choices[node.listName] || [];
    if (!node.orOther) return choices;
    return [...choices, { list_name: node.listName, name: 'other', 'label::vi': OTHER_CHOICE.vi, 'label::en': OTHER_CHOICE.en }];
  }

  /** A translated column (label, hint, constraint_message ...) of a row. */
  text(row, column, lang) {
    const wanted = [lang, this.defaultLanguage].filter(Boolean);
    const byLang = {};
    let plain = '';
    for (const [key, value] of Object.entries(row)) {
      if (value === null || value === undefined || String(value).trim() === '') continue;
      if (key === column) plain = String(value);
      else if (key.startsWith(column + '::')) {
        const code = languageCode(key.split('::')[1]);
        if (!(code in byLang)) byLang[code] = String(value);
      }
    }
    for (const code of wanted) if (code in byLang) return byLang[code];
    return plain || Object.values(byLang)[0] || '';
  }

  label(node, lang) { return this.text(node.row, 'label', lang) || node.name; }

  /**
   * Field -> choice name -> label: what jr:choice-name reads (schemas/form.py: the same). Labels
   * are in the default language, never the one on screen, so that a calculation stores the same
   * answer on every phone and on the server.
   */
  choiceLabels() {
    if (this.labelsByField === undefined) {
      // No prototype: a choice or field named __proto__ is then an ordinary key.
      this.labelsByField = Object.create(null);
      for (const node of this.nodes.values()) {
        if (!node.listName) continue;
        const labels = Object.create(null);
        for (const c of this.choiceList(node)) labels[c.name] = this.text(c, 'label') || String(c.name);
        this.labelsByField[node.name] = labels;
      }
    }
    return this.labelsByField;
  }

  /** The tags an `osm LIST` question asks for: LIST's rows of the osm sheet (schemas/form.py). */
  osmTags(node) {
    const list = String(node.row.type || '').trim().split(/\s+/)[1];
    const rows = this.definition.osm;
    return list && Array.isArray(rows) ? rows.filter((r) => r && r.list_name === list) : [];
  }

  /** What pulldata() reads: the definition's pulldata, file name -> {columns, rows}. */
  pulldataFiles() {
    const files = this.definition.pulldata;
    return files && typeof files === 'object' && !Array.isArray(files) ? files : null;
  }

  choiceLabel(listName, value, lang) {
    const c = (this.choices[listName] || []).find((x) => x.name === value);
    return c ? (this.text(c, 'label', lang) || value) : value;
  }
}

function get(node, column) {
  const v = node.row[column];
  return v === undefined || v === null ? '' : String(v).trim();
}

/** The rules of one form on one record's data; the twin of schemas.validate.RecordChecker. */
export class Rules {
  /** @param {Form} form @param {{today?: string, now?: string}} opts */
  constructor(form, opts = {}) {
    this.form = form;
    this.today = opts.today;
    this.now = opts.now;
  }

  ctx(data, position, current) {
    return {
      data, fields: this.form.fields, position, current, today: this.today, now: this.now,
      choices: this.form.choiceLabels(), files: this.form.pulldataFiles(),
    };
  }

  bool(expr, data, position, current, fallback) {
    try { return evaluateBool(expr, this.ctx(data, position, current)); } catch { return fallback; }
  }

  relevant(node, data, position) {
    const expr = get(node, 'relevant');
    return !expr || this.bool(expr, data, position, node.name, true);
  }

  required(node, data, position) {
    const raw = get(node, 'required');
    if (TRUE.has(raw.toLowerCase())) return true;
    if (FALSE.has(raw.toLowerCase())) return false;
    return this.bool(raw, data, position, node.name, true);
  }

  /** A new repeat instance (or the top level, for the root) with the form's defaults. */
  defaults(node) {
    const out = {};
    for (const child of node.children) {
      if (child.kind === 'group') Object.assign(out, this.defaults(child));
      else if (child.kind === 'field' && get(child, 'default') && !AUTOMATIC_TYPES.has(child.type)) {
        out[child.name] = typedDefault(child, get(child, 'default'));
      }
    }
    return out;
  }

  /** The choices a select offers now, after its choice_filter (all of them without one). */
  allowedChoices(node, data, position) {
    const all = this.form.choiceList(node);
    const filter = get(node, 'choice_filter');
    if (!filter) return all;
    // What a filter offers changes only when an answer it reads does: kept per question and
    // keyed on those answers, a list of 10,000 rows is filtered again after such an answer,
    // not after every answer (bench/form_scale.py).
    let known = this.filters?.get(node);
    if (!known || known.all !== all) {
      const [expr, columns] = choiceFilterExpression(filter);
      const fields = { ...this.form.fields };
      for (const c of columns) fields[CHOICE_PREFIX + c] = [];
      let reads = null;
      try {
        reads = [...references(expr)].filter((r) => !r.startsWith(CHOICE_PREFIX) && Object.hasOwn(this.form.fields, r));
        if (readsCurrent(expr) && !reads.includes(node.name)) reads.push(node.name);
      } catch { reads = null; }
      known = { all, expr, columns, fields, reads, key: null, offered: null };
      (this.filters ||= new Map()).set(node, known);
    }
    let key = null;
    if (known.reads) {
      try {
        key = JSON.stringify([position, known.reads.map((r) => evaluate(`\${${r}}`, this.ctx(data, position, node.name)))]);
      } catch { key = null; }
    }
    if (key !== null && key === known.key) return known.offered;
    const scope = { ...data };
    const offered = all.filter((choice) => {
      if (node.orOther && choice.name === 'other') return true;
      for (const c of known.columns) scope[CHOICE_PREFIX + c] = choice[c] === undefined || choice[c] === null ? '' : String(choice[c]);
      try {
        return evaluateBool(known.expr, { data: scope, fields: known.fields, position, current: node.name, today: this.today, now: this.now });
      } catch { return true; }
    });
    known.key = key;
    known.offered = offered;
    return offered;
  }

  #offered(node, value, data, position) {
    if (!get(node, 'choice_filter')) return true;
    const names = new Set(this.allowedChoices(node, data, position).map((c) => c.name));
    return (Array.isArray(value) ? value : [value]).every((v) => names.has(v));
  }

  repeatCount(node, data, position) {
    const expr = get(node, 'repeat_count');
    if (!expr) return null;
    try {
      const n = toNumber(evaluate(expr, this.ctx(data, position, null)));
      return Number.isFinite(n) ? Math.max(0, Math.min(Math.trunc(n), 100)) : 0;
    } catch { return null; }
  }

  /**
   * Recompute calculations and drop answers to questions that do not apply, in form order, as
   * ODK does on submission. Returns a new data object; the input is not changed. The server
   * settles staff edits with schemas/settle.py; both pass schemas/settle_cases.json.
   */
  settle(data) {
    let out = structuredClone(data);
    // Twice: a relevance that reads a later question sees that question already settled.
    for (let pass = 0; pass < 2; pass++) {
      const next = structuredClone(out);
      this.#settleLevel(this.form.root, next, next, [], true);
      out = next;
    }
    return out;
  }

  #settleLevel(node, scope, data, position, relevant) {
    for (const child of node.children) {
      const ok = relevant && this.relevant(child, data, position);
      if (child.kind === 'group') {
        this.#settleLevel(child, scope, data, position, ok);
      } else if (child.kind === 'repeat') {
        if (!ok) { delete scope[child.name]; continue; }
        const list = Array.isArray(scope[child.name]) ? scope[child.name] : [];
        const count = this.repeatCount(child, data, position);
        if (count !== null) {
          while (list.length < count) list.push(this.defaults(child));
          list.length = count;
        }
        scope[child.name] = list;
        list.forEach((inst, i) => {
          this.#settleLevel(child, inst, data, [...position, [child.name, i]], true);
        });
      } else if (!ok) {
        delete scope[child.name];
      } else if (get(child, 'choice_filter') && !isEmpty(scope[child.name])
                 && !this.#offered(child, scope[child.name], data, position)) {
        delete scope[child.name]; // the parent answer changed: this choice is no longer offered
      } else if (child.type === 'calculate' && get(child, 'calculation')) {
        let value;
        try { value = evaluate(get(child, 'calculation'), this.ctx(data, position, child.name)); } catch { value = ''; }
        if (Array.isArray(value)) value = value.length ? value[0] : '';
        if (typeof value === 'boolean') value = value ? 'true' : 'false';
        if (typeof value === 'number' && !Number.isFinite(value)) value = '';
        if (value === '') delete scope[child.name]; else scope[child.name] = value;
      }
    }
  }

  /**
   * Field-level errors of settled data: {path: [{code, vi, en}]}. `message(key, params)`
   * returns {vi, en} from the shared catalogue.
   */
  check(data, message) {
    const errors = {};
    this.#checkLevel(this.form.root, data, data, [], '', true, errors, message);
    return errors;
  }

  #checkLevel(node, scope, data, position, prefix, relevant, errors, message) {
    for (const child of node.children) {
      const ok = relevant && this.relevant(child, data, position);
      if (child.kind === 'group') {
        this.#checkLevel(child, scope, data, position, prefix, ok, errors, message);
        continue;
      }
      const path = prefix + child.name;
      const value = scope[child.name];
      if (!ok) continue; // settle() removed it
      if (child.kind === 'repeat') {
        const list = Array.isArray(value) ? value : [];
        const count = this.repeatCount(child, data, position);
        if (count !== null && list.length !== count) {
          add(errors, path, 'repeat_count', message('field.repeat_count', { expected: count, actual: list.length }));
        }
        list.forEach((inst, i) => {
          this.#checkLevel(child, inst, data, [...position, [child.name, i]], `${path}[${i}].`, true, errors, message);
        });
        continue;
      }
      if (isEmpty(value)) {
        if (child.type !== 'note' && child.type !== 'calculate' && this.required(child, data, position)) {
          this.#custom(errors, path, child, 'required_message', 'required', message, data, position);
        }
        continue;
      }
      const problem = child.type === 'rank'
        ? rankProblem(this.allowedChoices(child, data, position).map((c) => c.name), value)
        : typeProblem(this.form, child, value)
          || (this.#offered(child, value, data, position) ? null : 'not_a_choice');
      if (problem) { add(errors, path, problem, message(`field.${problem}`)); continue; }
      // An .osm file and a line's or shape's points have bounds of their own.
      if (child.type !== 'osm' && !GEO_TYPES.has(child.type) && tooLong(value)) {
        add(errors, path, 'too_long', message('field.too_long', { max: MAX_TEXT_LENGTH }));
        continue;
      }
      const constraint = get(child, 'constraint');
      if (constraint && !this.bool(constraint, data, position, child.name, false)) {
        this.#custom(errors, path, child, 'constraint_message', 'constraint', message, data, position);
      }
    }
  }

  #custom(errors, path, node, column, code, message, data, position) {
    // The form's own message, its ${references} filled in for this question's repeat instance.
    const generic = message(`field.${code}`);
    const vi = fill(this.form.text(node.row, column, 'vi'), this.form, data, position);
    const en = fill(this.form.text(node.row, column, 'en'), this.form, data, position);
    add(errors, path, code, { vi: vi || generic.vi, en: en || generic.en });
  }
}

function typedDefault(node, raw) {
  if (node.type === 'integer' && /^-?\d+$/.test(raw)) return Number(raw);
  if ((node.type === 'decimal' || node.type === 'range') && Number.isFinite(Number(raw))) return Number(raw);
  if (node.type === 'select_multiple' || node.type === 'rank') return raw.split(/\s+/).filter(Boolean);
  return raw;
}

/**
 * The longest answer of any text, in code points (as string-length counts): the server's
 * checker (schemas/validate.py: MAX_TEXT_LENGTH) holds the same number.
 */
export const MAX_TEXT_LENGTH = 10000;

/**
 * An osm question's answer: the text of the .osm file chosen, bounded, an <osm> document with
 * no DTD (schemas/validate.py: is_osm, the same rule).
 */
export const MAX_OSM_LENGTH = 100000;

export function isOsm(value) {
  if (typeof value !== 'string' || /<!(?:DOCTYPE|ENTITY)/i.test(value)) return false;
  if (value.length > MAX_OSM_LENGTH && [...value].length > MAX_OSM_LENGTH) return false;
  // XML's own white space only, as the server reads it (trim() knows more).
  const text = value.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '')
    .replace(/^(?:<\?xml[^>]*\?>[ \t\r\n]*)?(?:<!--[\s\S]*?-->[ \t\r\n]*)*/, '');
  if (/^<osm(?:[ \t\r\n][^<>]*)?\/>$/.test(text)) return true;
  return /^<osm[ \t\r\n>]/.test(text) && text.endsWith('</osm>');
}

function tooLong(value) {
  // UTF-16 units are never fewer than code points: count the points only past the limit.
  return typeof value === 'string' && value.length > MAX_TEXT_LENGTH && [...value].length > MAX_TEXT_LENGTH;
}

function add(errors, path, code, texts) {
  (errors[path] ||= []).push({ code, ...texts });
}

function isChoice(form, node, value) {
  if (node.orOther && value === 'other') return true;
  return (form.choices[node.listName] || []).some((c) => c.name === value);
}

/** A calendar day as the server reads one: Date.parse takes 2026-11-31 as 1 December. */
function isDate(value) {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value) || value < '0001') return false;
  const day = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(day.getTime()) && day.toISOString().slice(0, 10) === value;
}

/** The same type rules as the server's (schemas/validate.py). */
export function typeProblem(form, node, value) {
  switch (node.type) {
    case 'text': case 'barcode': case 'hidden':
      return typeof value === 'string' ? null : 'wrong_type';
    case 'integer':
      return Number.isInteger(value) ? null : 'not_integer';
    case 'decimal':
      return typeof value === 'number' && Number.isFinite(value) ? null : 'not_number';
    case 'range':
      return rangeTypeProblem(node, value);
    case 'select_one':
      if (typeof value !== 'string') return 'wrong_type';
      return isChoice(form, node, value) ? null : 'not_a_choice';
    case 'select_multiple':
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return 'wrong_type';
      if (new Set(value).size !== value.length) return 'repeated_choice';
      return value.every((v) => isChoice(form, node, v)) ? null : 'not_a_choice';
    case 'date': case 'today':
      return isDate(value) ? null : 'not_date';
    case 'time':
      return typeof value === 'string' && /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?$/.test(value) ? null : 'not_time';
    case 'datetime': case 'start': case 'end':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? null : 'not_datetime';
    case 'geotrace': case 'geoshape':
      return geoProblem(node.type, value);
    case 'geopoint': case 'start-geopoint': case 'background-geopoint': {
      const p = typeof value === 'string' ? value.trim().split(/\s+/).map(Number) : [];
      const ok = p.length >= 2 && p.length <= 4 && p.every(Number.isFinite)
        && Math.abs(p[0]) <= 90 && Math.abs(p[1]) <= 180 && (p.length < 4 || p[3] >= 0);
      return ok ? null : 'not_geopoint';
    }
    case 'image': case 'audio': case 'video': case 'file': case 'audit':
      return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value) ? null : 'not_blob';
    case 'rank':
      return rankProblem((form.choices[node.listName] || []).map((c) => c.name), value);
    case 'osm':
      return isOsm(value) ? null : 'not_osm';
    case 'acknowledge':
      return value === 'OK' ? null : 'wrong_type';
    case 'deviceid': case 'username':
      return typeof value === 'string' ? null : 'wrong_type';
    case 'note': case 'phonenumber': case 'email': case 'simserial': case 'subscriberid':
      return 'no_answer_expected';
    case 'calculate':
      return (typeof value === 'string' || typeof value === 'number') ? null : 'wrong_type';
    default:
      return 'wrong_type';
  }
}
