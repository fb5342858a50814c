// Folding text for search: what a volunteer types and what was written match whatever the case,
// the tone marks and đ/d. The server's twin is schemas/text.py; both pass schemas/fold_cases.json.
//
// fold(s): đ → d and Đ → D, NFD, the combining marks U+0300–U+036F dropped (every Vietnamese
// tone mark, the circumflex, the breve, the horn), lower case, and runs of white space made one
// space with none at either end. 'Lê Văn  Cường' → 'le van cuong'. For matching only.
// One class for both twins (Python's \s and JavaScript's differ at the edges).
const SPACE = /[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+/g;

export function fold(s) {
  return String(s ?? '').replace(/đ/g, 'd').replace(/Đ/g, 'D').normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(SPACE, ' ').trim();
}

// What the home screen searches in, folded: one string per household (the head's name, the
// address, the code). `cache` (a Map kept across screens) folds a household again only when its
// text changed, so typing does not fold the whole list again on every keystroke.
export function searchIndex(households, cache = new Map()) {
  return households.map((h) => {
    const raw = `${h.head_name ?? ''} ${h.address ?? ''} ${h.code ?? ''}`;
    let entry = cache.get(h.id);
    if (!entry || entry.raw !== raw) cache.set(h.id, entry = { raw, folded: fold(raw) });
    return entry.folded;
  });
}

// The households whose folded text holds the folded query; `index` is searchIndex's for the
// same list.
export function filterHouseholds(households, index, query) {
  const q = fold(query);
  if (!q) return households;
  return households.filter((_, i) => index[i].includes(q));
}
