/**
 * The XLSForm expression engine (ODK's XPath subset) for the collector.
 *
 * It is the twin of schemas/expressions.py (with expr_parser.py and expr_values.py): same
 * grammar, same values, same decisions on every corner ODK leaves open — the Python module
 * docstrings are the reference — and both must pass schemas/expression_cases.json.
 *
 * Values: boolean, number, string, or an Array (a node-set: the values of its nodes).
 * Context: {data, fields, position, current, today, now, choices}
 *   data     the record's answers; a repeat R is data[R], a list of instance objects
 *   fields   field name -> names of its enclosing repeats, outermost first
 *   position the current repeat instance chain: [[repeat, zeroBasedIndex], ...]
 *   current  the field `.` refers to; today / now fix today() and now() for tests.
 *   choices  for jr:choice-name: field -> choice name -> label (Form.choiceLabels).
 *   files    for pulldata(): file name -> {columns, rows} (the form definition's pulldata).
 *
 * No dependencies, no build step: an ES module for the browser and Node 20.
 * @module expr
 */

import { digest } from './digest.js';

/** A malformed expression or one that cannot be evaluated against the given form. */
export class ExpressionError extends Error {
  /**
   * @param {string} code syntax | unknown_function | arity | type | unknown_field |
   *   no_current | regex
   * @param {string} message
   * @param {number|null} [position] offset in the expression, for syntax errors
   */
  constructor(code, message, position = null) {
    super(message);
    this.name = 'ExpressionError';
    this.code = code;
    this.position = position;
  }
}

// name -> [minimum, maximum or null for "any number"] argument count.
const FUNCTIONS = {
  'selected': [2, 2], 'count-selected': [1, 1], 'if': [3, 3], 'coalesce': [2, 2],
  'string-length': [1, 1], 'regex': [2, 2], 'today': [0, 0], 'now': [0, 0], 'int': [1, 1],
  'number': [1, 1], 'string': [1, 1], 'boolean': [1, 1], 'true': [0, 0], 'false': [0, 0],
  'not': [1, 1], 'concat': [0, null], 'join': [1, null], 'contains': [2, 2],
  'starts-with': [2, 2], 'substr': [2, 3], 'round': [1, 2], 'floor': [1, 1],
  'ceiling': [1, 1], 'abs': [1, 1], 'min': [1, null], 'max': [1, null], 'count': [1, 1],
  'sum': [1, 1], 'position': [0, 1], 'decimal-date-time': [1, 1], 'format-date': [2, 2],
  'format-date-time': [2, 2], 'date': [1, 1], 'date-time': [1, 1], 'decimal-time': [1, 1],
  'substring': [2, 3], 'substring-before': [2, 2], 'substring-after': [2, 2],
  'translate': [3, 3], 'normalize-space': [1, 1], 'ends-with': [2, 2],
  'boolean-from-string': [1, 1], 'pow': [2, 2], 'sqrt': [1, 1], 'exp': [1, 1], 'exp10': [1, 1],
  'log': [1, 1], 'log10': [1, 1], 'pi': [0, 0], 'sin': [1, 1], 'cos': [1, 1], 'tan': [1, 1],
  'asin': [1, 1], 'acos': [1, 1], 'atan': [1, 1], 'atan2': [2, 2], 'area': [1, 1],
  'distance': [1, 1], 'geofence': [2, 2], 'selected-at': [2, 2], 'checklist': [2, null],
  'weighted-checklist': [2, null], 'count-non-empty': [1, 1], 'once': [1, 1], 'digest': [2, 3],
  'base64-decode': [1, 1], 'uuid': [0, 1], 'random': [0, 0], 'randomize': [1, 2],
  'indexed-repeat': [3, null], 'jr:choice-name': [2, 2], 'pulldata': [4, 4],
};
const NODESET_ARG = new Set(['count', 'sum', 'count-non-empty']);
const MAX_DEPTH = 64;
const TOKEN = new RegExp([
  '([ \\t\\r\\n]+)', '(\\$\\{([^}]*)\\})', '([0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)', '(\\.\\.)',
  '(\\.)', '(\'[^\']*\'|"[^"]*")', '(!=|<=|>=|[=<>+\\-*(),])',
  '((?:jr:)?[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*)',
].join('|'), 'y');
const KINDS = [null, 'ws', 'ref', null, 'num', 'dotdot', 'dot', 'str', 'op', 'name'];
// Python's [^\W\d][\w.-]*: a letter, underscore or non-decimal number, then word characters.
// A name, or the path keying a name used in two groups (mother/age): schemas/expr_parser.py.
const FIELD_NAME = /^[\p{L}\p{Nl}\p{No}_][\p{L}\p{N}_.-]*(?:\/[\p{L}\p{Nl}\p{No}_][\p{L}\p{N}_.-]*)*$/u;
const OPERATOR_NAMES = new Set(['and', 'or', 'div', 'mod']);
const LEVELS = [['or'], ['and'], ['=', '!='], ['<', '<=', '>', '>='], ['+', '-'],
  ['*', 'div', 'mod']].map((ops) => new Set(ops));

const hasOwn = (obj, key) => obj !== null && typeof obj === 'object' && Object.hasOwn(obj, key);
const isRecord = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function syntax(expr, pos, what) {
  const near = expr.slice(pos, pos + 12) || 'end of expression';
  return new ExpressionError('syntax',
    `syntax error at position ${pos} (${JSON.stringify(near)}): ${what}`, pos);
}

function tokenize(expr) {
  const tokens = [];
  let pos = 0;
  while (pos < expr.length) {
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(expr);
    if (m === null) {
      if (expr.startsWith('${', pos)) throw syntax(expr, pos, "'${' without a closing '}'");
      if (expr[pos] === "'" || expr[pos] === '"') {
        throw syntax(expr, pos, 'string literal without a closing quote');
      }
      throw syntax(expr, pos, `unexpected character ${JSON.stringify(expr[pos])}`);
    }
    const kind = KINDS[m.findIndex((g, i) => i > 0 && g !== undefined)];
    if (kind === 'ref') {
      if (!FIELD_NAME.test(m[3])) {
        throw syntax(expr, pos, `'\${${m[3]}}' is not a valid field reference`);
      }
      tokens.push(['ref', m[3], pos]);
    } else if (kind === 'str') {
      tokens.push(['str', m[0].slice(1, -1), pos]);
    } else if (kind === 'op') {
      tokens.push([m[0], m[0], pos]);
    } else if (kind !== 'ws') {
      tokens.push([kind, m[0], pos]);
    }
    pos = TOKEN.lastIndex;
  }
  tokens.push(['eof', '', expr.length]);
  return tokens;
}

class Parser {
  constructor(expr) {
    this.expr = expr;
    this.tokens = tokenize(expr);
    this.i = 0;
    this.depth = 0;
  }

  peek() { return this.tokens[this.i]; }

  take() { return this.tokens[this.i++]; }

  enter() {
    if (++this.depth > MAX_DEPTH) {
      throw syntax(this.expr, this.peek()[2], 'expression is nested too deeply');
    }
  }

  expect(kind, what) {
    const tok = this.peek();
    if (tok[0] !== kind) throw syntax(this.expr, tok[2], `expected ${what}`);
    return this.take();
  }

  binary(level) {
    if (level === 6) return this.unary();
    const ops = LEVELS[level];
    let left = this.binary(level + 1);
    for (;;) {
      const [kind, text] = this.peek();
      if (!(ops.has(kind) || (kind === 'name' && ops.has(text)))) return left;
      this.take();
      left = { type: 'binary', op: text, left, right: this.binary(level + 1) };
    }
  }

  unary() {
    if (this.peek()[0] !== '-') return this.primary();
    this.take();
    this.enter();
    const node = { type: 'unary', operand: this.unary() };
    this.depth--;
    return node;
  }

  primary() {
    const [kind, text, pos] = this.take();
    switch (kind) {
      case 'num': return { type: 'num', value: Number(text) };
      case 'str': return { type: 'str', value: text };
      case 'ref': return { type: 'ref', name: text };
      case 'dot': return { type: 'current' };
      case '(': {
        this.enter();
        const node = this.binary(0);
        this.depth--;
        this.expect(')', "')'");
        return node;
      }
      case 'name':
        if (this.peek()[0] !== '(') {
          if (OPERATOR_NAMES.has(text)) {
            throw syntax(this.expr, pos, `operator '${text}' needs an operand before it`);
          }
          throw syntax(this.expr, pos, `bare name '${text}' is not supported; write \${${text}}`);
        }
        return this.call(text, pos);
      case 'dotdot': throw syntax(this.expr, pos, "'..' is only supported as position(..)");
      case 'eof': throw syntax(this.expr, pos, 'expression ends too early');
      default: throw syntax(this.expr, pos, `unexpected ${JSON.stringify(text)}`);
    }
  }

  call(name, pos) {
    if (!Object.hasOwn(FUNCTIONS, name)) {
      throw new ExpressionError('unknown_function',
        `unknown function ${name}() at position ${pos}`, pos);
    }
    this.take();
    this.enter();
    const args = [];
    if (this.peek()[0] !== ')') {
      for (;;) {
        if (name === 'position' && this.peek()[0] === 'dotdot') {
          this.take();
          args.push({ type: 'parent' });
        } else {
          args.push(this.binary(0));
        }
        if (this.peek()[0] !== ',') break;
        this.take();
      }
    }
    this.expect(')', "',' or ')'");
    this.depth--;
    const [low, high] = FUNCTIONS[name];
    if (args.length < low || (high !== null && args.length > high)) {
      let wanted = `${low} to ${high}`;
      if (low === high) wanted = `${low}`;
      else if (high === null) wanted = `${low} or more`;
      throw new ExpressionError('arity',
        `${name}() takes ${wanted} argument(s), got ${args.length} (position ${pos})`, pos);
    }
    if (NODESET_ARG.has(name) && args[0].type !== 'ref' && args[0].type !== 'current') {
      throw new ExpressionError('type', `${name}() needs a \${reference} (position ${pos})`, pos);
    }
    if (name === 'position' && args.length && args[0].type !== 'parent') {
      throw new ExpressionError('type',
        `position() only supports position() and position(..) (position ${pos})`, pos);
    }
    if ((name === 'weighted-checklist' && args.length % 2)
        || (name === 'indexed-repeat' && !(args.length % 2))) {
      const what = name === 'weighted-checklist' ? 'a weight for each response'
        : 'an index for each repeat';
      throw new ExpressionError('arity', `${name}() needs ${what} (position ${pos})`, pos);
    }
    if (name === 'indexed-repeat'
        && ![args[0], ...args.filter((_, i) => i % 2 === 1)].every((a) => a.type === 'ref')) {
      throw new ExpressionError('type',
        `indexed-repeat() needs \${references} to a field and repeats (position ${pos})`, pos);
    }
    return { type: 'call', name, args };
  }
}

const parseCache = new Map();

/**
 * Parse an expression into its AST (cached); throws ExpressionError when it is malformed.
 * @param {string} expr
 * @returns {object} the AST, nodes {type, ...} with type one of num, str, ref, current,
 *   parent, unary, binary, call
 */
export function parse(expr) {
  let tree = parseCache.get(expr);
  if (tree !== undefined) return tree;
  if (typeof expr !== 'string') {
    throw new ExpressionError('syntax', `an expression must be a string, not ${expr}`);
  }
  const parser = new Parser(expr);
  if (parser.peek()[0] === 'eof') {
    throw new ExpressionError('syntax', 'syntax error at position 0: the expression is empty', 0);
  }
  tree = parser.binary(0);
  const [kind, text, pos] = parser.peek();
  if (kind !== 'eof') {
    throw syntax(expr, pos, `unexpected ${JSON.stringify(text)} after a complete expression`);
  }
  if (parseCache.size >= 4096) parseCache.clear();
  parseCache.set(expr, tree);
  return tree;
}

function walk(node, visit) {
  visit(node);
  if (node.type === 'unary') walk(node.operand, visit);
  else if (node.type === 'binary') { walk(node.left, visit); walk(node.right, visit); }
  else if (node.type === 'call') node.args.forEach((a) => walk(a, visit));
}

/**
 * The ${names} an expression reads (`.` is not included: it is the field itself).
 * @param {string} expr
 * @returns {Set<string>}
 */
export function references(expr) {
  const out = new Set();
  walk(parse(expr), (n) => { if (n.type === 'ref') out.add(n.name); });
  return out;
}

/**
 * Does an expression read the field itself (`.`, or once())?
 * @param {string} expr
 * @returns {boolean}
 */
export function readsCurrent(expr) {
  let found = false;
  walk(parse(expr), (n) => { if (n.type === 'current' || (n.type === 'call' && n.name === 'once')) found = true; });
  return found;
}

// -- values ---------------------------------------------------------------------------------
const NUMBER = /^[ \t\r\n]*(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))[ \t\r\n]*$/;
const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
const DATETIME = new RegExp('^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})'
  + '(?::([0-9]{2})(\\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$');
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** An answer as stored in a record's data -> an expression value. */
function fromAnswer(raw) {
  switch (typeof raw) {
    case 'string': case 'number': case 'boolean': return raw;
    default:
      // select_multiple: ODK stores the choices space-separated.
      if (Array.isArray(raw)) return raw.map((item) => toString(fromAnswer(item))).join(' ');
      return '';
  }
}

/**
 * XPath number(): strict decimal syntax, date/datetime strings as days since 1970-01-01.
 * @param {boolean|number|string|Array} value
 * @returns {number}
 */
export function toNumber(value) {
  switch (typeof value) {
    case 'number': return value;
    case 'string': {
      const m = NUMBER.exec(value);
      return m ? Number(m[1]) : dateToDays(value);
    }
    case 'boolean': return value ? 1 : 0;
    default:
      if (Array.isArray(value)) return value.length ? toNumber(value[0]) : NaN;
      return NaN;
  }
}

/**
 * XPath string(): integers without ".0", NaN, Infinity; a node-set is its first node.
 * @param {boolean|number|string|Array} value
 * @returns {string}
 */
export function toString(value) {
  switch (typeof value) {
    case 'string': return value;
    case 'number': return String(value);
    case 'boolean': return value ? 'true' : 'false';
    default:
      if (Array.isArray(value)) return value.length ? toString(value[0]) : '';
      return '';
  }
}

/**
 * XPath boolean(): non-empty string, non-zero non-NaN number, non-empty node-set.
 * @param {boolean|number|string|Array} value
 * @returns {boolean}
 */
export function toBoolean(value) {
  switch (typeof value) {
    case 'boolean': return value;
    case 'string': return value.length > 0;
    case 'number': return value === value && value !== 0;
    default: return Array.isArray(value) && value.length > 0;
  }
}

function daysFromCivil(y, m, d) {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z) {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524)
    - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

function validDate(y, m, d) {
  if (m < 1 || m > 12) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d >= 1 && d <= DAYS_IN_MONTH[m - 1] + (m === 2 && leap ? 1 : 0);
}

/** [y, m, d, hour, minute, second, fraction, offsetSeconds or null for local time], or null. */
function parseDateTime(text) {
  let m = DATE.exec(text);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    return validDate(y, mo, d) ? [y, mo, d, 0, 0, 0, 0, null] : null;
  }
  m = DATETIME.exec(text);
  if (!m) return null;
  const [y, mo, d, hh, mi] = [1, 2, 3, 4, 5].map((i) => Number(m[i]));
  const ss = m[6] ? Number(m[6]) : 0;
  const frac = m[7] ? parseFloat('0' + m[7]) : 0;
  let offset = m[8] ? 0 : null;
  if (m[8] && m[8] !== 'Z') {
    const zone = m[8].replace(':', '');
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(3, 5));
    if (oh > 23 || om > 59) return null;
    offset = (oh * 3600 + om * 60) * (zone[0] === '-' ? -1 : 1);
  }
  if (!validDate(y, mo, d) || hh > 23 || mi > 59 || ss > 59) return null;
  return [y, mo, d, hh, mi, ss, frac, offset];
}

// Seconds east of UTC of the phone's zone at an instant, to the second (getTimezoneOffset()
// drops the seconds of historical offsets; Python's tm_gmtoff keeps them).
function localOffset(epochSeconds) {
  const t = Math.floor(epochSeconds) * 1000;
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return 0;
  const wall = new Date(0);
  wall.setUTCFullYear(d.getFullYear(), d.getMonth(), d.getDate());
  wall.setUTCHours(d.getHours(), d.getMinutes(), d.getSeconds(), 0);
  return (wall.getTime() - t) / 1000;
}

// The instant local clocks show `wall` (seconds since 1970 read as if UTC); a skipped or repeated
// wall time takes the offset from before the change (schemas/expr_values.local_to_epoch).
function localToEpoch(wall) {
  const before = localOffset(wall - 86400);
  if (localOffset(wall - before) === before) return wall - before;
  const after = localOffset(wall + 86400);
  if (localOffset(wall - after) === after) return wall - after;
  return wall - before;
}

function dateToDays(text) {
  const parts = parseDateTime(text);
  if (parts === null) return NaN;
  const [y, mo, d, hh, mi, ss, frac, offset] = parts;
  const wall = daysFromCivil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss;
  const start = offset === null ? localToEpoch(wall) : wall - offset;
  return (start + frac) / 86400;
}

const pad = (n, width = 2) => String(n).padStart(width, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

// [year, month, day, hour, minute, second, millisecond, weekday with 0 = Sunday]
function fieldsOfWall(days, rem, milli) {
  const [y, mo, d] = civilFromDays(days);
  return [y, mo, d, Math.floor(rem / 3600), Math.floor((rem % 3600) / 60), rem % 60, milli,
    (((days + 4) % 7) + 7) % 7];
}

function localFields(days) {
  if (!Number.isFinite(days) || Math.abs(days) > 3e6) return null;
  const ms = Math.floor(days * 86400000 + 0.5);
  const secs = Math.floor(ms / 1000);
  const wall = secs + localOffset(secs);
  const day = Math.floor(wall / 86400);
  const fields = fieldsOfWall(day, wall - day * 86400, ms - secs * 1000);
  return fields[0] >= 0 && fields[0] <= 9999 ? fields : null;
}

// A date string written without an offset keeps its wall-clock time; a number is an instant.
function dateFields(value) {
  if (Array.isArray(value)) value = value.length ? value[0] : '';
  if (typeof value === 'string') {
    const parts = parseDateTime(value);
    if (parts !== null) {
      const [y, mo, d, hh, mi, ss, frac, offset] = parts;
      if (offset !== null) return localFields(dateToDays(value));
      return fieldsOfWall(daysFromCivil(y, mo, d), hh * 3600 + mi * 60 + ss,
        Math.min(999, Math.floor(frac * 1000 + 0.5)));
    }
  }
  return localFields(toNumber(value));
}

function localIso(fields, withTime) {
  const [y, mo, d, hh, mi, ss, ms] = fields;
  const day = `${pad(y, 4)}-${pad(mo)}-${pad(d)}`;
  if (!withTime) return day;
  const wall = daysFromCivil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss;
  const offset = localOffset(localToEpoch(wall));
  const abs = Math.abs(offset);
  const zone = `${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 3600))}:${pad(Math.floor((abs % 3600) / 60))}`;
  return `${day}T${pad(hh)}:${pad(mi)}:${pad(ss)}.${pad(ms, 3)}${zone}`;
}

function formatDate(value, fmt) {
  const fields = dateFields(value);
  if (fields === null) return '';
  const [y, mo, d, hh, mi, ss, ms, wd] = fields;
  const codes = {
    Y: pad(y, 4), y: pad(y, 4).slice(2), m: pad(mo), n: String(mo), b: MONTHS[mo - 1],
    d: pad(d), e: String(d), a: WEEKDAYS[wd], H: pad(hh), h: String(hh), M: pad(mi),
    S: pad(ss), 3: pad(ms, 3),
  };
  let out = '';
  for (let i = 0; i < fmt.length; i++) {
    if (fmt[i] === '%' && i + 1 < fmt.length && Object.hasOwn(codes, fmt[i + 1])) {
      out += codes[fmt[i + 1]];
      i++;
    } else {
      out += fmt[i];
    }
  }
  return out;
}

// An integer power of an integer worked out exactly, then rounded once, when it fits in a
// double's range: V8's Math.pow and the C library's differ in the last bit for some (10 ** 34),
// and a form's pow(10, n) must be the same number on the phone and on the server
// (schemas/expr_library.py: _exact_pow holds the same rule).
const EXACT_POW_BITS = 1100;
function exactPow(a, b) {
  if (Number.isInteger(a) && Number.isInteger(b) && b !== 0 && a !== 0) {
    if (a === 10 && b > -400 && b < 400) return exp10(b);
    const base = BigInt(Math.abs(a));
    const exponent = Math.abs(b);
    if (exponent * base.toString(2).length <= EXACT_POW_BITS) {
      const power = base ** BigInt(exponent);
      // 1 / power is rounded once only while power is exact as a double
      if (b > 0 || power <= 2n ** 53n) {
        const value = b > 0 ? Number(power) : 1 / Number(power);
        return a < 0 && exponent % 2 ? -value : value;
      }
    }
  }
  return Math.pow(a, b);
}

/** 10 to the x; an integer x read as the decimal 1eX, rounded once as both languages parse it. */
function exp10(x) {
  if (Number.isInteger(x) && x > -400 && x < 400) return Number(`1e${x}`);
  return Math.pow(10, x);
}

// Half away from zero on the shortest decimal digits of x (JavaRosa's BigDecimal HALF_UP).
function roundHalfAway(x, places) {
  if (Number.isNaN(places)) return NaN;
  if (!Number.isFinite(x)) return x;
  if (x === 0) return 0;
  if (places > 400) return x;
  if (places < -400) return 0;
  const n = Math.trunc(places);
  const [mantissa, expText] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const e = Number(expText);
  const keep = e + 1 + n;
  if (keep < 0) return 0;
  if (keep >= digits.length) return x;
  let kept = BigInt(digits.slice(0, keep) || '0');
  if (digits[keep] >= '5') kept += 1n;
  const result = Number(`${kept}e${e + 1 - keep}`);
  if (result === 0) return 0;
  return x < 0 ? -result : result;
}

// -- references -------------------------------------------------------------------------------
const repeatCache = new WeakMap();

function repeatNames(fields) {
  let names = repeatCache.get(fields);
  if (names === undefined) {
    names = new Set(Object.values(fields).flat());
    repeatCache.set(fields, names);
  }
  return names;
}

function instances(parent, repeat) {
  const items = isRecord(parent) && hasOwn(parent, repeat) ? parent[repeat] : undefined;
  if (!Array.isArray(items)) return [];
  return items.map((item) => (isRecord(item) ? item : {}));
}

function answer(node, name) {
  return isRecord(node) && hasOwn(node, name) ? fromAnswer(node[name]) : '';
}

function resolve(env, name, nodeset) {
  const chain = env.fields[name] || [];
  const repeat = env.repeats.has(name);
  if (chain.length === 0 && !repeat) {
    const value = answer(env.data, name);
    return nodeset ? [value] : value;
  }
  let node = env.data;
  const position = env.position;
  let depth = 0;
  while (depth < chain.length && depth < position.length && position[depth][0] === chain[depth]) {
    const items = isRecord(node) && hasOwn(node, chain[depth]) ? node[chain[depth]] : undefined;
    const index = Math.trunc(Number(position[depth][1]));
    node = Array.isArray(items) && index >= 0 && index < items.length ? items[index] : null;
    depth++;
  }
  if (depth === chain.length && !repeat) {
    const value = answer(node, name);
    return nodeset ? [value] : value;
  }
  let nodes = isRecord(node) ? [node] : [];
  for (const step of chain.slice(depth)) nodes = nodes.flatMap((p) => instances(p, step));
  if (repeat) return nodes.flatMap((p) => instances(p, name).map(() => ''));
  return nodes.map((inst) => answer(inst, name));
}

// -- operators ----------------------------------------------------------------------------------
function eq(a, b) {
  const ta = typeof a;
  const tb = typeof b;
  if (ta === tb) return a === b;
  if (ta === 'boolean' || tb === 'boolean') return toBoolean(a) === toBoolean(b);
  if (ta === 'number' || tb === 'number') return toNumber(a) === toNumber(b);
  return toString(a) === toString(b);
}

const SCALAR = {
  '=': eq,
  '!=': (a, b) => !eq(a, b),
  '<': (a, b) => toNumber(a) < toNumber(b),
  '<=': (a, b) => toNumber(a) <= toNumber(b),
  '>': (a, b) => toNumber(a) > toNumber(b),
  '>=': (a, b) => toNumber(a) >= toNumber(b),
};

function compareNodesets(scalar, a, b) {
  if (Array.isArray(a)) {
    if (Array.isArray(b)) return a.some((x) => b.some((y) => scalar(x, y)));
    if (typeof b === 'boolean') return scalar(toBoolean(a), b);
    return a.some((x) => scalar(x, b));
  }
  if (typeof a === 'boolean') return scalar(a, toBoolean(b));
  return b.some((y) => scalar(a, y));
}

const ARITH = {
  '+': (a, b) => a + b, '-': (a, b) => a - b, '*': (a, b) => a * b,
  'div': (a, b) => a / b, 'mod': (a, b) => a % b,
};

// -- functions ----------------------------------------------------------------------------------
const TOKENS = /[^ \t\r\n]+/g;
const tokensOf = (s) => s.match(TOKENS) || [];
const regexCache = new Map();

function compileRegex(pattern) {
  let re = regexCache.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(pattern);
    } catch (err) {
      throw new ExpressionError('regex',
        `invalid regular expression ${JSON.stringify(pattern)}: ${err.message}`);
    }
    if (regexCache.size >= 512) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re;
}

const expand = (values) => values.flatMap((v) => (Array.isArray(v) ? v : [v]));
const first = (v) => (Array.isArray(v) ? (v.length ? v[0] : '') : v);
const codePoints = (s) => Array.from(s);

function selected(a, b) {
  const choice = toString(b).replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
  return choice !== '' && tokensOf(toString(a)).includes(choice);
}

function extreme(values, smaller) {
  const numbers = expand(values).map(toNumber);
  if (numbers.length === 0 || numbers.some(Number.isNaN)) return NaN;
  let best = numbers[0];
  for (const x of numbers.slice(1)) {
    if (smaller ? x < best : x > best) best = x;
    else if (x === 0 && best === 0 && Object.is(x, -0) === smaller) best = x;
  }
  return best;
}

function sum(values) {
  let total = 0;
  for (const v of values) total += toNumber(v);
  return total;
}

// -- ODK's functions beyond XPath's core (schemas/expr_library.py holds the decisions) -----------
const XML_SPACE = /^[ \t\r\n]+|[ \t\r\n]+$/g;
const EARTH_RADIUS = 6378100;
// Python's math.radians multiplies by this constant; the same product keeps the engines equal.
const DEGREE = Math.PI / 180;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const TIME = /^([0-9]{2}):([0-9]{2})(?::([0-9]{2})(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$/;
const TOKEN_CHARS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const MAX_UUID_LENGTH = 1024;
const PM_MODULUS = 2147483647;
const PM_MULTIPLIER = 16807;

const xpathRound = (x) => (Number.isFinite(x) ? Math.floor(x + 0.5) : x);

function substring(s, start, length) {
  const from = xpathRound(start);
  const end = length === null ? Infinity : from + xpathRound(length);
  return codePoints(s).filter((_, i) => from <= i + 1 && i + 1 < end).join('');
}

function substringBefore(s, t) {
  const at = s.indexOf(t);
  return at > 0 ? s.slice(0, at) : '';
}

function substringAfter(s, t) {
  const at = s.indexOf(t);
  return at >= 0 ? s.slice(at + t.length) : '';
}

function translate(s, source, target) {
  const table = new Map();
  const to = codePoints(target);
  codePoints(source).forEach((ch, i) => {
    if (!table.has(ch)) table.set(ch, i < to.length ? to[i] : '');
  });
  return codePoints(s).map((ch) => (table.has(ch) ? table.get(ch) : ch)).join('');
}

function selectedAt(value, index) {
  const tokens = tokensOf(toString(value));
  const n = toNumber(index);
  if (!Number.isFinite(n)) return '';
  const i = Math.trunc(n);
  return i >= 0 && i < tokens.length ? tokens[i] : '';
}

function points(value) {
  let texts;
  if (Array.isArray(value)) {
    const items = value.map(toString);
    texts = items.length === 1 ? items[0].split(';') : items;
  } else {
    texts = toString(value).split(';');
  }
  const out = [];
  for (const text of texts) {
    const parts = tokensOf(text);
    if (parts.length < 2 || parts.length > 4) return null;
    const numbers = parts.map(toNumber);
    if (numbers.some(Number.isNaN)) return null;
    const [lat, lon] = numbers;
    if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180)
        || (parts.length === 4 && numbers[3] < 0)) return null;
    out.push([lat, lon]);
  }
  return out;
}

const centimetres = (x) => Math.floor(Math.abs(x) * 100 + 0.5) / 100;

function area(value) {
  const pts = points(value);
  if (pts === null) return NaN;
  let total = 0;
  if (pts.length > 2) {
    pts.forEach(([lat1, lon1], i) => {
      const [lat2, lon2] = pts[(i + 1) % pts.length];
      total += (lon2 - lon1) * DEGREE * (2 + Math.sin(lat1 * DEGREE) + Math.sin(lat2 * DEGREE));
    });
    total = total * EARTH_RADIUS * EARTH_RADIUS / 2;
  }
  return centimetres(total);
}

function distance(value) {
  const pts = points(value);
  if (pts === null) return NaN;
  let total = 0;
  for (let i = 1; i < pts.length; i++) {
    const [lat1, lon1] = pts[i - 1];
    const [lat2, lon2] = pts[i];
    const p1 = lat1 * DEGREE;
    const p2 = lat2 * DEGREE;
    const cosine = Math.sin(p1) * Math.sin(p2)
      + Math.cos(p1) * Math.cos(p2) * Math.cos((lon1 - lon2) * DEGREE);
    // Rounding can push the cosine of two equal points just past 1.
    total += Math.acos(Math.max(-1, Math.min(1, cosine))) * EARTH_RADIUS;
  }
  return centimetres(total);
}

function geofence(point, shape) {
  const where = points(point);
  const polygon = points(shape);
  if (where === null || polygon === null || where.length !== 1 || polygon.length < 3) {
    return false;
  }
  const [lat, lon] = where[0];
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [latI, lonI] = polygon[i];
    const [latJ, lonJ] = polygon[j];
    if ((latI > lat) !== (latJ > lat)) {
      const crossing = (lonJ - lonI) * (lat - latI) / (latJ - latI) + lonI;
      if (lon < crossing) inside = !inside;
    }
  }
  return inside;
}

const ticked = (v) => (typeof v === 'boolean' ? v : toString(v) === 'yes');

function within(total, low, high) {
  const lo = toNumber(low);
  const hi = toNumber(high);
  return (lo < 0 || total >= lo) && (hi < 0 || total <= hi);
}

function weightedChecklist(low, high, pairs) {
  let total = 0;
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    if (ticked(first(pairs[i]))) total += toNumber(pairs[i + 1]);
  }
  return within(total, low, high);
}

function base64Decode(value) {
  const text = toString(value);
  if (!BASE64.test(text)) return '';
  const bare = text.replace(/=+$/, '');
  if (bare.length % 4 === 1 || (bare !== text && text.length % 4 !== 0)) return '';
  const binary = atob(bare + '='.repeat((4 - (bare.length % 4)) % 4));
  const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  return new TextDecoder('utf-8').decode(bytes);
}

// Park-Miller "minimal standard" generator, seeded as Enketo seeds it: floats in [0, 1).
function parkMiller(seed) {
  let state = (Number.isFinite(seed) ? Math.trunc(seed) : 0) % PM_MODULUS;
  if (state <= 0) state += PM_MODULUS - 1;
  return () => {
    state = (state * PM_MULTIPLIER) % PM_MODULUS;
    return (state - 1) / (PM_MODULUS - 1);
  };
}

// The inside-out Fisher-Yates shuffle.
function shuffle(items, seed) {
  const draw = seed === null ? Math.random : parkMiller(seed);
  const result = [];
  items.forEach((item, i) => {
    const j = Math.floor(draw() * (i + 1));
    if (j !== i) result[i] = result[j];
    result[j] = item;
  });
  return result;
}

function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

function uuid(length) {
  if (length === null) {
    const b = randomBytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-`
      + hex.slice(20);
  }
  const n = toNumber(length);
  if (!(n >= 1)) return '';
  const count = Math.trunc(Math.min(n, MAX_UUID_LENGTH));
  // 62 letters: bytes of 248 and above are drawn again so that every letter is as likely.
  let out = '';
  while (out.length < count) {
    for (const byte of randomBytes(count)) {
      if (byte < 248 && out.length < count) out += TOKEN_CHARS[byte % 62];
    }
  }
  return out;
}

function decimalTime(value, today) {
  value = first(value);
  if (typeof value !== 'string') return NaN;
  const m = TIME.exec(value);
  if (m === null) {
    const fields = parseDateTime(value) !== null ? dateFields(value) : null;
    if (fields === null) return NaN;
    const [, , , hh, mi, ss, ms] = fields;
    return (hh * 3600 + mi * 60 + ss + ms / 1000) / 86400;
  }
  const [hh, mi, ss] = [Number(m[1]), Number(m[2]), Number(m[3] || 0)];
  const frac = m[4] ? parseFloat('0' + m[4]) : 0;
  if (hh > 23 || mi > 59 || ss > 59) return NaN;
  let seconds = hh * 3600 + mi * 60 + ss;
  if (m[5]) {
    let offset = 0;
    if (m[5] !== 'Z') {
      const zone = m[5].replace(':', '');
      const oh = Number(zone.slice(1, 3));
      const om = Number(zone.slice(3, 5));
      if (oh > 23 || om > 59) return NaN;
      offset = (oh * 3600 + om * 60) * (zone[0] === '-' ? -1 : 1);
    }
    const day = parseDateTime(today);
    const base = day ? daysFromCivil(day[0], day[1], day[2]) * 86400 : 0;
    const instant = base + seconds - offset;
    seconds = ((instant + localOffset(instant)) % 86400 + 86400) % 86400;
  }
  return (seconds + frac) / 86400;
}

const dateOf = (value) => {
  const fields = dateFields(value);
  return fields === null ? '' : localIso(fields, false);
};
const dateTimeOf = (value) => {
  const fields = dateFields(value);
  return fields === null ? '' : localIso(fields, true);
};

// NaN is what an empty answer becomes in arithmetic, so coalesce passes over it too.
const isEmpty = (v) => toString(v) === '' || (typeof v === 'number' && Number.isNaN(v));

function fieldOf(path) {
  const p = path.trim();
  if (p.startsWith('${') && p.endsWith('}')) return p.slice(2, -1).trim();
  return p.slice(p.lastIndexOf('/') + 1);
}

function indexOf(value) {
  const n = toNumber(value);
  return Number.isInteger(n) ? n - 1 : -1;
}

function localToday() {
  const d = new Date();
  return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function localNow() {
  const d = new Date();
  const offset = -d.getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${localToday()}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
    + `.${pad(d.getMilliseconds(), 3)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

const UNARY = {
  'count-selected': (a) => tokensOf(toString(a)).length,
  'string-length': (a) => codePoints(toString(a)).length,
  'int': (a) => Math.trunc(toNumber(a)),
  'floor': (a) => Math.floor(toNumber(a)),
  'ceiling': (a) => Math.ceil(toNumber(a)),
  'abs': (a) => Math.abs(toNumber(a)),
  'number': toNumber,
  'string': toString,
  'boolean': toBoolean,
  'not': (a) => !toBoolean(a),
  'decimal-date-time': toNumber,
  'date': dateOf,
  'date-time': dateTimeOf,
  'normalize-space': (a) => toString(a).replace(XML_SPACE, '').replace(/[ \t\r\n]+/g, ' '),
  'boolean-from-string': (a) => ['true', '1'].includes(toString(a)),
  'area': area,
  'distance': distance,
  'base64-decode': base64Decode,
  'sqrt': (a) => Math.sqrt(toNumber(a)),
  'exp': (a) => Math.exp(toNumber(a)),
  'exp10': (a) => exp10(toNumber(a)),
  'log': (a) => Math.log(toNumber(a)),
  'log10': (a) => Math.log10(toNumber(a)),
  'sin': (a) => Math.sin(toNumber(a)),
  'cos': (a) => Math.cos(toNumber(a)),
  'tan': (a) => Math.tan(toNumber(a)),
  'asin': (a) => Math.asin(toNumber(a)),
  'acos': (a) => Math.acos(toNumber(a)),
  'atan': (a) => Math.atan(toNumber(a)),
};
const BINARY = {
  'selected': selected,
  'regex': (s, p) => compileRegex(toString(p)).test(toString(s)),
  'contains': (a, b) => toString(a).includes(toString(b)),
  'starts-with': (a, b) => toString(a).startsWith(toString(b)),
  'format-date': (d, f) => formatDate(d, toString(f)),
  'format-date-time': (d, f) => formatDate(d, toString(f)),
  'ends-with': (a, b) => toString(a).endsWith(toString(b)),
  'substring-before': (a, b) => substringBefore(toString(a), toString(b)),
  'substring-after': (a, b) => substringAfter(toString(a), toString(b)),
  'pow': (a, b) => exactPow(toNumber(a), toNumber(b)),
  'atan2': (a, b) => Math.atan2(toNumber(a), toNumber(b)),
  'geofence': geofence,
  'selected-at': selectedAt,
};
const parentPosition = (env) => (env.position.length
  ? Math.trunc(Number(env.position[env.position.length - 1][1])) + 1 : 1);

const NULLARY = {
  'true': () => true,
  'false': () => false,
  'today': (env) => env.today || (env.now ? env.now.slice(0, 10) : localToday()),
  'now': (env) => env.now || localNow(),
  // position() is the context node's: a repeat instance's index when the expression belongs to
  // the repeat itself (its relevant, say), else 1, for a field is the only one of its name.
  'position': (env) => (env.current !== null && env.position.length
    && env.position[env.position.length - 1][0] === env.current ? parentPosition(env) : 1),
  'pi': () => Math.PI,
  'random': () => Math.random(),
};

function compileIndexedRepeat(node) {
  const field = node.args[0].name;
  const repeats = node.args.filter((_, i) => i % 2 === 1).map((a) => a.name);
  const indexes = node.args.filter((_, i) => i > 0 && i % 2 === 0).map(compile);
  return (env) => {
    const wanted = new Map(repeats.map((r, i) => [r, indexOf(indexes[i](env))]));
    const position = [];
    const chain = env.fields[field] || [];
    for (let depth = 0; depth < chain.length; depth++) {
      const repeat = chain[depth];
      if (wanted.has(repeat)) position.push([repeat, wanted.get(repeat)]);
      else if (depth < env.position.length && env.position[depth][0] === repeat) {
        position.push([repeat, Math.trunc(Number(env.position[depth][1]))]);
      } else break;
    }
    if (position.some(([, index]) => index < 0)) return '';
    return first(resolve({ ...env, position }, field, false));
  };
}

function compileCall(node) {
  const { name } = node;
  if (name === 'position' && node.args.length) return parentPosition;
  if (Object.hasOwn(NULLARY, name)) return NULLARY[name];
  if (NODESET_ARG.has(name)) {
    const arg = node.args[0];
    const nodes = (env) => resolve(env, arg.type === 'ref' ? arg.name : env.current, true);
    if (name === 'count') return (env) => nodes(env).length;
    if (name === 'count-non-empty') return (env) => nodes(env).filter((v) => toString(v) !== '').length;
    return (env) => sum(nodes(env));
  }
  if (name === 'indexed-repeat') return compileIndexedRepeat(node);
  const fns = node.args.map(compile);
  const [fa, fb, fc] = fns;
  if (Object.hasOwn(UNARY, name)) {
    const f1 = UNARY[name];
    return (env) => f1(fa(env));
  }
  if (Object.hasOwn(BINARY, name)) {
    const f2 = BINARY[name];
    return (env) => f2(fa(env), fb(env));
  }
  switch (name) {
    case 'if': return (env) => (toBoolean(fa(env)) ? fb(env) : fc(env));
    case 'coalesce': return (env) => {
      const a = first(fa(env));
      return isEmpty(a) ? first(fb(env)) : a;
    };
    case 'substring': return (env) => substring(toString(fa(env)), toNumber(fb(env)),
      fc ? toNumber(fc(env)) : null);
    case 'translate': return (env) => translate(toString(fa(env)), toString(fb(env)),
      toString(fc(env)));
    case 'checklist': return (env) => {
      const responses = expand(fns.slice(2).map((f) => f(env)));
      return within(responses.filter(ticked).length, fa(env), fb(env));
    };
    case 'weighted-checklist': return (env) => weightedChecklist(fa(env), fb(env),
      fns.slice(2).map((f) => f(env)));
    case 'digest': return (env) => digest(toString(fa(env)), toString(fb(env)),
      fc ? toString(fc(env)) : 'base64');
    case 'uuid': return (env) => uuid(fa ? fa(env) : null);
    case 'randomize': return (env) => {
      const value = fa(env);
      return shuffle(Array.isArray(value) ? value : [value], fb ? toNumber(fb(env)) : null);
    };
    case 'once': return (env) => {
      if (env.current !== null && Object.hasOwn(env.fields, env.current)) {
        const own = first(resolve(env, env.current, false));
        if (!isEmpty(own)) return own;
      }
      return fa(env);
    };
    case 'jr:choice-name': return (env) => {
      const byField = env.choices || {};
      const field = fieldOf(toString(fb(env)));
      const labels = Object.hasOwn(byField, field) ? byField[field] : null;
      const value = toString(fa(env)).replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
      return labels && Object.hasOwn(labels, value) ? toString(labels[value]) : '';
    };
    case 'pulldata': return (env) => {
      const [file, column, keyColumn] = fns.slice(0, 3).map((f) => trimXml(toString(f(env))));
      const files = env.files || {};
      const table = Object.hasOwn(files, file) ? files[file] : null;
      const found = lookup(table, keyColumn);
      const at = found ? found.columns.indexOf(column) : -1;
      if (at < 0) return '';
      const key = toString(fns[3](env));
      const row = found.index.has(key) ? table.rows[found.index.get(key)] : null;
      return row && at < row.length ? String(row[at]) : '';
    };
    case 'decimal-time': return (env) => decimalTime(fa(env), NULLARY.today(env));
    case 'concat': return (env) => expand(fns.map((f) => f(env))).map(toString).join('');
    case 'join': return (env) => expand(fns.slice(1).map((f) => f(env))).map(toString)
      .join(toString(fa(env)));
    case 'substr': return (env) => {
      const chars = codePoints(toString(fa(env)));
      const start = toNumber(fb(env));
      const end = fc ? toNumber(fc(env)) : chars.length;
      return chars.slice(start, end).join('');
    };
    case 'round': return (env) => roundHalfAway(toNumber(fa(env)), fb ? toNumber(fb(env)) : 0);
    case 'min': case 'max': {
      const smaller = name === 'min';
      return (env) => extreme(fns.map((f) => f(env)), smaller);
    }
    default: throw new Error(`no implementation for ${name}()`);
  }
}

function compile(node) {
  switch (node.type) {
    case 'num': case 'str': {
      const { value } = node;
      return () => value;
    }
    case 'ref': {
      const { name } = node;
      return (env) => resolve(env, name, false);
    }
    case 'current': return (env) => resolve(env, env.current, false);
    case 'unary': {
      const fa = compile(node.operand);
      return (env) => -toNumber(fa(env));
    }
    case 'binary': {
      const fa = compile(node.left);
      const fb = compile(node.right);
      const { op } = node;
      if (op === 'and') return (env) => toBoolean(fa(env)) && toBoolean(fb(env));
      if (op === 'or') return (env) => toBoolean(fa(env)) || toBoolean(fb(env));
      if (Object.hasOwn(ARITH, op)) {
        const arith = ARITH[op];
        return (env) => arith(toNumber(fa(env)), toNumber(fb(env)));
      }
      const scalar = SCALAR[op];
      return (env) => {
        const a = fa(env);
        const b = fb(env);
        if (Array.isArray(a) || Array.isArray(b)) return compareNodesets(scalar, a, b);
        return scalar(a, b);
      };
    }
    case 'call': return compileCall(node);
    default: throw new Error(`cannot compile ${node.type}`);
  }
}

const programs = new Map();

function program(expr) {
  let prog = programs.get(expr);
  if (prog === undefined) {
    const tree = parse(expr);
    let usesCurrent = false;
    walk(tree, (n) => { if (n.type === 'current') usesCurrent = true; });
    prog = { fn: compile(tree), refs: [...references(expr)].sort(), usesCurrent };
    if (programs.size >= 4096) programs.clear();
    programs.set(expr, prog);
  }
  return prog;
}

// pulldata's index of a file by one column, kept per table object: a lookup per keystroke must
// not walk 10,000 rows (schemas/expressions.py: _lookup).
const LOOKUPS = new WeakMap();

function trimXml(s) { return s.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, ''); }

function lookup(table, keyColumn) {
  if (!table || typeof table !== 'object' || !Array.isArray(table.columns)
    || !Array.isArray(table.rows)) return null;
  const at = table.columns.indexOf(keyColumn);
  if (at < 0) return null;
  let byColumn = LOOKUPS.get(table);
  if (!byColumn) LOOKUPS.set(table, byColumn = new Map());
  let index = byColumn.get(keyColumn);
  if (!index) {
    index = new Map();
    table.rows.forEach((row, n) => {
      if (Array.isArray(row) && at < row.length && !index.has(String(row[at]))) {
        index.set(String(row[at]), n);
      }
    });
    byColumn.set(keyColumn, index);
  }
  return { columns: table.columns, index };
}

/**
 * Evaluate an expression: a boolean, a number, a string, or an Array (a node-set of values).
 * @param {string} expr
 * @param {{data: object, fields: Object<string, string[]>, position?: Array<[string, number]>,
 *   current?: string|null, today?: string|null, now?: string|null}} ctx
 * @returns {boolean|number|string|Array}
 */
export function evaluate(expr, ctx) {
  const prog = program(expr);
  const fields = ctx.fields || {};
  for (const name of prog.refs) {
    if (!Object.hasOwn(fields, name)) {
      throw new ExpressionError('unknown_field',
        `unknown field \${${name}} in ${JSON.stringify(expr)}`);
    }
  }
  const current = ctx.current ?? null;
  if (prog.usesCurrent) {
    if (current === null) {
      throw new ExpressionError('no_current',
        `'.' in ${JSON.stringify(expr)} but no current field is set`);
    }
    if (!Object.hasOwn(fields, current)) {
      throw new ExpressionError('unknown_field',
        `unknown current field ${JSON.stringify(current)}`);
    }
  }
  const env = {
    data: ctx.data || {}, fields, position: ctx.position || [], current,
    today: ctx.today || null, now: ctx.now || null, repeats: repeatNames(fields),
    choices: ctx.choices || null, files: ctx.files || null,
  };
  try {
    return prog.fn(env);
  } catch (err) {
    if (err instanceof RangeError) {
      throw new ExpressionError('syntax', 'the expression is nested too deeply');
    }
    throw err;
  }
}

/**
 * boolean(expr): how relevant, constraint and required are read.
 * @param {string} expr
 * @param {object} ctx see evaluate()
 * @returns {boolean}
 */
export function evaluateBool(expr, ctx) {
  return toBoolean(evaluate(expr, ctx));
}
