/**
 * The XLSForm expression engine (ODK's XPath subset) for the collector.
 *
 * It is the twin of schemas/expressions.py (with expr_parser.py and expr_values.py): same
 * grammar, same values, same decisions on every corner ODK leaves open — the Python module
 * docstrings are the reference — and both must pass schemas/expression_cases.json.
 *
 * Values: boolean, number, string, or an Array (a node-set: the values of its nodes).
 * Context: {data, fields, position, current, today, now}
 *   data     the record's answers; a repeat R is data[R], a list of instance objects
 *   fields   field name -> names of its enclosing repeats, outermost first
 *   position the current repeat instance chain: [[repeat, zeroBasedIndex], ...]
 *   current  the field `.` refers to; today / now fix today() and now() for tests.
 *
 * No dependencies, no build step: an ES module for the browser and Node 20.
 * @module expr
 */

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
  'sum': [1, 1], 'position': [1, 1], 'decimal-date-time': [1, 1], 'format-date': [2, 2],
};
const MAX_DEPTH = 64;
const TOKEN = new RegExp([
  '([ \\t\\r\\n]+)', '(\\$\\{([^}]*)\\})', '([0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)', '(\\.\\.)',
  '(\\.)', '(\'[^\']*\'|"[^"]*")', '(!=|<=|>=|[=<>+\\-*(),])',
  '([A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*)',
].join('|'), 'y');
const KINDS = [null, 'ws', 'ref', null, 'num', 'dotdot', 'dot', 'str', 'op', 'name'];
// Python's [^\W\d][\w.-]*: a letter, underscore or non-decimal number, then word characters.
const FIELD_NAME = /^[\p{L}\p{Nl}\p{No}_][\p{L}\p{N}_.-]*$/u;
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
    if ((name === 'count' || name === 'sum') && args[0].type !== 'ref'
        && args[0].type !== 'current') {
      throw new ExpressionError('type', `${name}() needs a \${reference} (position ${pos})`, pos);
    }
    if (name === 'position' && args[0].type !== 'parent') {
      throw new ExpressionError('type',
        `position() only supports position(..) (position ${pos})`, pos);
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

/** [y, m, d, hour, minute, second, fraction, offsetSeconds] of a date/datetime, or null. */
function parseDateTime(text) {
  let m = DATE.exec(text);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    return validDate(y, mo, d) ? [y, mo, d, 0, 0, 0, 0, 0] : null;
  }
  m = DATETIME.exec(text);
  if (!m) return null;
  const [y, mo, d, hh, mi] = [1, 2, 3, 4, 5].map((i) => Number(m[i]));
  const ss = m[6] ? Number(m[6]) : 0;
  const frac = m[7] ? parseFloat('0' + m[7]) : 0;
  let offset = 0;
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

function dateToDays(text) {
  const parts = parseDateTime(text);
  if (parts === null) return NaN;
  const [y, mo, d, hh, mi, ss, frac, offset] = parts;
  const seconds = (hh * 3600 + mi * 60 + ss - offset) + frac;
  return daysFromCivil(y, mo, d) + seconds / 86400;
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

function formatDate(value, fmt) {
  if (Array.isArray(value)) value = value.length ? value[0] : '';
  let y; let mo; let d; let hh; let mi; let ss;
  if (typeof value === 'string') {
    const parts = parseDateTime(value);
    if (parts === null) return '';
    [y, mo, d, hh, mi, ss] = parts;
  } else {
    const x = toNumber(value);
    if (!Number.isFinite(x) || Math.abs(x) > 3e6) return '';
    const secs = Math.floor(x * 86400 + 0.5);
    const days = Math.floor(secs / 86400);
    const rem = secs - days * 86400;
    [y, mo, d] = civilFromDays(days);
    [hh, mi, ss] = [Math.floor(rem / 3600), Math.floor((rem % 3600) / 60), rem % 60];
    if (y < 0 || y > 9999) return '';
  }
  const codes = {
    Y: pad(y, 4), m: pad(mo), d: pad(d), e: String(d), H: pad(hh), M: pad(mi), S: pad(ss),
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
};
const BINARY = {
  'selected': selected,
  'regex': (s, p) => compileRegex(toString(p)).test(toString(s)),
  'contains': (a, b) => toString(a).includes(toString(b)),
  'starts-with': (a, b) => toString(a).startsWith(toString(b)),
  'format-date': (d, f) => formatDate(d, toString(f)),
};
const NULLARY = {
  'true': () => true,
  'false': () => false,
  'today': (env) => env.today || (env.now ? env.now.slice(0, 10) : localToday()),
  'now': (env) => env.now || localNow(),
  'position': (env) => (env.position.length
    ? Math.trunc(Number(env.position[env.position.length - 1][1])) + 1 : 1),
};

function compileCall(node) {
  const { name } = node;
  if (Object.hasOwn(NULLARY, name)) return NULLARY[name];
  if (name === 'count' || name === 'sum') {
    const arg = node.args[0];
    const nodes = (env) => resolve(env, arg.type === 'ref' ? arg.name : env.current, true);
    return name === 'count' ? (env) => nodes(env).length : (env) => sum(nodes(env));
  }
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
      return toString(a) !== '' ? a : first(fb(env));
    };
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
