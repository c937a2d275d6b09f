// The page's languages: a message catalogue per language (i18n/en.js,
// i18n/pl.js, the same keys), the language chosen once from the browser's
// list (navigator.languages) or from the visitor's switch (kept in
// localStorage), and the formatting that follows it (Intl: dates, numbers,
// plural categories — Polish has one/few/many).
//
// Static text in index.html names its key: data-i18n="key" (text; `code`
// spans in backquotes), data-i18n-attr="placeholder:key,aria-label:key".
// Text that JS builds calls t(key, params). A change of language fires
// `kmsedge:lang` on document, and each view re-renders what it built.
import en from './i18n/en.js';
import pl from './i18n/pl.js';

export const CATALOGUES = { en, pl };
export const LANGS = Object.keys(CATALOGUES);
const LANG_KEY = 'kmsedge.lang';

let lang = 'en';
let plurals = new Intl.PluralRules('en');

/** The language the visitor chose, else the first of the browser's we have. */
export function detectLanguage() {
  let saved = null;
  try { saved = localStorage.getItem(LANG_KEY); } catch { /* storage off */ }
  if (LANGS.includes(saved)) return saved;
  for (const l of navigator.languages ?? [navigator.language]) {
    const base = String(l).toLowerCase().split('-')[0];
    if (LANGS.includes(base)) return base;
  }
  return 'en';
}

export const language = () => lang;

/**
 * The message `key` with `{name}` replaced by params.name. A message that is
 * an object is a plural: its form is chosen by Intl.PluralRules for
 * params.n ({one, few, many, other}). Numbers are formatted for the
 * language. A key missing from the language falls back to English, and a
 * key missing from both shows as the key itself (tests look for it).
 */
export function t(key, params = {}) {
  let m = CATALOGUES[lang][key] ?? en[key];
  if (m === undefined) return key;
  if (typeof m === 'object') m = m[plurals.select(params.n)] ?? m.other;
  return m.replace(/\{(\w+)\}/g, (all, p) => {
    const v = params[p];
    if (v === undefined || v === null) return all;
    return typeof v === 'number' ? number(v) : String(v);
  });
}

export const number = (n) => new Intl.NumberFormat(lang).format(n);

/** Date and time in the page's language (the visitor's time zone unless opts say). */
export const dateTime = (date, opts = { dateStyle: 'medium', timeStyle: 'medium' }) =>
  new Intl.DateTimeFormat(lang, opts).format(date);

/** Fills `el` with `text`, backquoted parts as <code>: markup never comes from a string. */
export function rich(el, text) {
  const parts = text.split('`');
  el.replaceChildren(...parts.map((p, i) => {
    if (i % 2 === 0) return p;
    const c = document.createElement('code');
    c.textContent = p;
    return c;
  }));
}

/** Translates the static page and the blocks written in one language only. */
function applyStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) rich(el, t(el.dataset.i18n));
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(',')) {
      const [attr, key] = pair.split(':');
      el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
  // Long texts (help) are written per language: show the page's.
  for (const el of root.querySelectorAll('[data-lang-block]')) el.hidden = el.lang !== lang;
  for (const b of root.querySelectorAll('[data-set-lang]')) b.setAttribute('aria-pressed', String(b.dataset.setLang === lang));
}

/** Switches the page to `l` (and remembers it when `persist`). */
export function setLanguage(l, persist = true) {
  if (!LANGS.includes(l)) l = 'en';
  lang = l;
  plurals = new Intl.PluralRules(l);
  document.documentElement.lang = l;
  if (persist) {
    try { localStorage.setItem(LANG_KEY, l); } catch { /* storage off: this page only */ }
  }
  applyStatic();
  document.dispatchEvent(new CustomEvent('kmsedge:lang', { detail: l }));
}

/** Runs `fn` on every change of language (views re-render what they built). */
export function onLanguage(fn) {
  document.addEventListener('kmsedge:lang', () => fn());
}

/** Wires the switch's buttons ([data-set-lang]) and applies the first language. */
export function setupLanguage() {
  for (const b of document.querySelectorAll('[data-set-lang]')) {
    b.addEventListener('click', () => setLanguage(b.dataset.setLang));
  }
  setLanguage(detectLanguage(), false);
}
