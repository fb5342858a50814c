// The phone's words come from the same catalogue as the server's (schemas/messages).
const catalogues = {};
let current = 'vi';

export async function loadMessages() {
  await Promise.all(['vi', 'en'].map(async (lang) => {
    const response = await fetch(new URL(`../messages/${lang}.json`, import.meta.url));
    catalogues[lang] = await response.json();
  }));
}

export function setLang(lang) { current = lang === 'en' ? 'en' : 'vi'; document.documentElement.lang = current; }
export function lang() { return current; }

function format(template, params) {
  return template.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
}

/** Text in the current language; an unknown key shows itself so that a gap is visible. */
export function t(key, params = {}) {
  return format(catalogues[current]?.[key] ?? catalogues.vi?.[key] ?? key, params);
}

/** {vi, en} for a key, as the server's errors carry. */
export function message(key, params = {}) {
  return {
    vi: format(catalogues.vi?.[key] ?? key, params),
    en: format(catalogues.en?.[key] ?? key, params),
  };
}

/**
 * A message kept by its code, `{key, params}`, or as the server sent it, `{vi, en}`, in the
 * current language: what is kept to be shown later (the last sync's outcome) is kept this way,
 * so that switching the language changes it too.
 */
export function say(kept) {
  if (!kept) return '';
  if (kept.key) return t(kept.key, kept.params);
  return kept[current] || kept.vi || '';
}
