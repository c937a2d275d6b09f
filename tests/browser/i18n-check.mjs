// What the browser tests use to find text of the wrong language on a page
// (i18n.test.mjs, dashboard-i18n.test.mjs).
import assert from 'node:assert/strict';
import en from '../../www/i18n/en.js';
import pl from '../../www/i18n/pl.js';

export const CATALOGUES = { en, pl };

/** The parts of a message that are its own words: the text between parameters and code. */
function phrases(message) {
  const forms = typeof message === 'object' ? Object.values(message) : [message];
  return forms.flatMap((m) => m.split(/\{\w+\}|`[^`]*`/)).map((p) => p.trim()).filter((p) => p.length >= 6 && /[a-zA-Z]{3}/.test(p));
}

/**
 * Phrases of `lang`'s catalogue that must not show on a page in `other`
 * language: those of messages the two catalogues word differently, minus
 * any phrase inside a message both word the same (names and technical
 * terms such as "CSVLK" or "HwId").
 */
export function foreignPhrases(lang, other) {
  const mine = CATALOGUES[lang];
  const theirs = CATALOGUES[other];
  const theirText = Object.entries(theirs).filter(([k, m]) => JSON.stringify(m) === JSON.stringify(mine[k]))
    .flatMap(([, m]) => (typeof m === 'object' ? Object.values(m) : [m])).join('\n');
  const out = new Set();
  for (const [k, m] of Object.entries(mine)) {
    if (JSON.stringify(m) === JSON.stringify(theirs[k])) continue;
    for (const p of phrases(m)) if (!theirText.includes(p)) out.add(p);
  }
  return [...out];
}

/**
 * Visible text of the page outside code (commands, keys and records are the
 * same in every language), plus the accessible names and placeholders.
 */
export async function shownText(page) {
  return page.evaluate(() => {
    const texts = [];
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const el = n.parentElement;
      if (el.closest('code, pre, script, style') || !el.checkVisibility()) continue;
      texts.push(n.textContent);
    }
    const attrs = [...document.querySelectorAll('[aria-label], [placeholder], [title]')]
      .filter((el) => el.offsetParent !== null || el === document.documentElement)
      .flatMap((el) => ['aria-label', 'placeholder', 'title'].map((a) => el.getAttribute(a) ?? ''));
    return [document.title, texts.join('\n'), ...attrs].join('\n');
  });
}

export async function assertNoForeign(page, lang, what) {
  const other = lang === 'en' ? 'pl' : 'en';
  const text = await shownText(page);
  // Whole words only: "Domain" is English, "-DomainName" a PowerShell parameter.
  const esc = (p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const found = foreignPhrases(other, lang).filter((p) => new RegExp(`(^|[^\\p{L}])${esc(p)}($|[^\\p{L}])`, 'u').test(text));
  assert.deepEqual(found, [], `${what} in ${lang} shows ${other} text: ${found.join(' | ')}`);
  const keys = Object.keys(en).filter((k) => k.includes('.') && text.includes(k));
  assert.deepEqual(keys, [], `${what} in ${lang} shows message keys instead of messages`);
}
