// Evaluates a batch of expressions for the cross-engine property test
// (tests/unit/test_expressions_property.py): reads a JSON array of {expr, ctx} on stdin and
// writes the JSON array of results, NaN/Infinity/node-sets encoded as in
// schemas/expression_cases.json and errors as {"error": code}.
import { evaluate, ExpressionError } from '../../pwa/js/expr.js';

export function encode(value) {
  if (Array.isArray(value)) return { nodeset: value.map(encode) };
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return { nan: true };
    if (!Number.isFinite(value)) return { inf: value > 0 ? 1 : -1 };
  }
  return value;
}

export function run(item) {
  try {
    return encode(evaluate(item.expr, item.ctx));
  } catch (err) {
    if (err instanceof ExpressionError) return { error: err.code };
    return { error: 'crash', message: String(err && err.stack ? err.stack : err) };
  }
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const items = JSON.parse(Buffer.concat(chunks).toString('utf8'));
process.stdout.write(JSON.stringify(items.map(run)));
