// ${name} references in a form's words (labels, hints, guidance hints, required and constraint
// messages, choice labels): the twin of schemas/labels.py, both held to
// schemas/label_cases.json. ODK's rules: ${x} is x's answer where the text is shown (the same
// repeat instance's sibling, or the top-level answer), written as the expression engine's
// string() writes it (3, never 3.0; a select shows the choice names, as Collect and Enketo do);
// no answer, or one the settled data dropped as not applying, is ''. A name the form does not
// have stays as written. The result is plain text: show it with textContent, never as HTML.
import { evaluate, toString } from './expr.js';

// ${name}, spaces around the name allowed (as the form check allows them).
const REFERENCE = /\$\{[ \t\r\n]*([^{}]*?)[ \t\r\n]*\}/g;
/** The index of a repeat instance that does not exist: the heading shared by every instance. */
export const NO_INSTANCE = -1;

/** `text` with each ${name} replaced by that field's answer at `position`. */
export function fill(text, form, data, position = []) {
  const raw = String(text ?? '');
  if (!raw.includes('${')) return raw;
  const ctx = { data: data || {}, fields: form.fields, position };
  return raw.replace(REFERENCE, (whole, name) => {
    if (!Object.hasOwn(form.fields, name)) return whole;
    try { return toString(evaluate(`\${${name}}`, ctx)); } catch { return whole; }
  });
}

/** A translated column of a survey or choices row (hint, constraint_message ...), filled in. */
export function text(form, row, column, lang, data, position = []) {
  return fill(form.text(row, column, lang), form, data, position);
}

/** A question's, group's or repeat's label filled in (its name when it has none). */
export function label(form, node, lang, data, position = []) {
  return fill(form.label(node, lang), form, data, position);
}
