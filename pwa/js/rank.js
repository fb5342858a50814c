// XLSForm's rank question on the phone: every offered choice once, first the one put first,
// kept as the list of choice names (ODK writes them space-separated). The twin of
// schemas/rank.py, held equal by schemas/rank_cases.json.

/**
 * What is wrong with `value` as the order of the `offered` choice names, or null:
 * wrong_type, repeated_choice, not_a_choice (not offered now) or rank_incomplete (one left out).
 */
export function rankProblem(offered, value) {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return 'wrong_type';
  if (new Set(value).size !== value.length) return 'repeated_choice';
  const names = new Set(offered);
  if (!value.every((v) => names.has(v))) return 'not_a_choice';
  return value.length === names.size ? null : 'rank_incomplete';
}

/**
 * The order the widget shows: the answer's order for the choices still offered, then those it
 * lacks (none answered yet, or newly offered by a filter) in the list's order.
 */
export function shownOrder(offered, value) {
  const names = [...new Set(offered)];
  const kept = (Array.isArray(value) ? value : []).filter((v) => names.includes(v));
  return [...new Set(kept), ...names.filter((n) => !kept.includes(n))];
}

/**
 * Where the answer stands against the order shown: 'unanswered' (none), 'whole' (it is that
 * order) or 'changed' (a filter has since offered more: the volunteer keeps or moves again).
 */
export function rankState(offered, value) {
  if (!Array.isArray(value) || !value.length) return 'unanswered';
  return value.join('\n') === shownOrder(offered, value).join('\n') ? 'whole' : 'changed';
}

/** `order` with the item at `from` moved to `to` (both within it); a new list. */
export function moved(order, from, to) {
  const out = [...order];
  const [item] = out.splice(from, 1);
  out.splice(Math.max(0, Math.min(to, out.length)), 0, item);
  return out;
}
