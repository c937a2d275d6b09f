// The page in Polish and in English (headless Chromium): the catalogues
// agree, the language follows the browser and the visitor's switch (kept
// across reloads, <html lang> updated, keyboard-operable), every view in
// both languages with a screenshot (test-artifacts/i18n-<view>-<lang>.png)
// and no string of the other language's catalogue on it, labels for every
// control in both languages, Polish plurals, and the key checker.
//
// Run: node --test tests/browser/i18n.test.mjs (after www/pkg/ is built;
// see scripts/test-web.sh). CHROMIUM overrides the browser path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './server.mjs';
import en from '../../www/i18n/en.js';
import pl from '../../www/i18n/pl.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '../..');
const artifacts = path.join(root, 'test-artifacts');
fs.mkdirSync(artifacts, { recursive: true });
const CATALOGUES = { en, pl };
const LOCALES = { en: 'en-US', pl: 'pl-PL' };
const vector = JSON.parse(fs.readFileSync(path.join(root, 'tests/fixtures/vectors/v6_win10_enterprise_ndr32.json'), 'utf8'));
const PRO_GVLK = 'W269N-WFGWX-YVC9B-4J6C9-T83GX'; // Windows 10/11 Pro, from data/products.json

let server;
let base;
let browser;

before(async () => {
  assert.ok(fs.existsSync(path.join(root, 'www/pkg/kmsedge_bg.wasm')), 'www/pkg is built (scripts/test-web.sh builds it)');
  ({ server, url: base } = await serve(path.join(root, 'www')));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

/** A fresh browser profile whose languages are `locale`'s; page errors fail the test. */
async function pageIn(lang) {
  const context = await browser.newContext({ locale: LOCALES[lang], viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => { throw e; });
  return { context, page };
}

async function open(page, hash) {
  await page.goto('about:blank');
  await page.goto(`${base}${hash}`);
  await page.waitForFunction(() => document.body.dataset.ready === '1');
}

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
function foreignPhrases(lang, other) {
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
async function shownText(page) {
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

async function assertNoForeign(page, lang, what) {
  const other = lang === 'en' ? 'pl' : 'en';
  const text = await shownText(page);
  // Whole words only: "Domain" is English, "-DomainName" a PowerShell parameter.
  const esc = (p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const found = foreignPhrases(other, lang).filter((p) => new RegExp(`(^|[^\\p{L}])${esc(p)}($|[^\\p{L}])`, 'u').test(text));
  assert.deepEqual(found, [], `${what} in ${lang} shows ${other} text: ${found.join(' | ')}`);
  const keys = Object.keys(en).filter((k) => k.includes('.') && text.includes(k));
  assert.deepEqual(keys, [], `${what} in ${lang} shows message keys instead of messages`);
}

test('the two catalogues have the same keys, and each plural every form its language needs', () => {
  assert.deepEqual(Object.keys(pl).sort(), Object.keys(en).sort());
  for (const lang of ['en', 'pl']) {
    const needed = new Intl.PluralRules(lang).resolvedOptions().pluralCategories;
    for (const [k, m] of Object.entries(CATALOGUES[lang])) {
      if (typeof m !== 'object') continue;
      for (const c of needed) assert.ok(typeof m[c] === 'string', `${lang} ${k} lacks the plural form ${c}`);
    }
    for (const [k, m] of Object.entries(CATALOGUES[lang])) {
      const params = (s) => [...new Set([...JSON.stringify(s).matchAll(/\{(\w+)\}/g)].map((x) => x[1]))].sort().join();
      assert.equal(params(m), params(CATALOGUES.en[k]) || params(m), `${lang} ${k}: same parameters as en`);
    }
  }
  assert.ok(foreignPhrases('en', 'pl').length > 100, 'the foreign-text check has English phrases to look for');
});

test('Polish plurals and number formats follow Intl (one / few / many)', async () => {
  const { context, page } = await pageIn('pl');
  await open(page, '#lookup');
  const forms = await page.evaluate(async () => {
    const { t } = await import('./i18n.js');
    return [1, 2, 4, 5, 12, 22, 25, 1234].map((n) => t('lookup.count', { n }));
  });
  assert.deepEqual(forms, ['1 produkt z kluczem GVLK', '2 produkty z kluczem GVLK', '4 produkty z kluczem GVLK',
    '5 produktów z kluczem GVLK', '12 produktów z kluczem GVLK', '22 produkty z kluczem GVLK',
    '25 produktów z kluczem GVLK', `${new Intl.NumberFormat('pl').format(1234)} produkty z kluczem GVLK`]);
  // The page's count line uses the same rules.
  await page.getByLabel('Produkt', { exact: true }).fill('windows');
  const n = await page.locator('#results li.product').count();
  const form = new Intl.PluralRules('pl').select(n);
  const word = { one: 'produkt', few: 'produkty', many: 'produktów', other: 'produktu' }[form];
  assert.equal(await page.textContent('#result-count'), `${new Intl.NumberFormat('pl').format(n)} ${word} z kluczem GVLK`);
  await context.close();
});

test('language from the browser; the switch works by keyboard, updates <html lang> and persists across reloads', async () => {
  const { context, page } = await pageIn('pl');
  await open(page, '#lookup');
  assert.equal(await page.getAttribute('html', 'lang'), 'pl');
  assert.equal(await page.textContent('#h-lookup'), 'Wyszukiwarka GVLK');
  assert.equal(await page.title(), 'kmsedge — Wyszukiwarka GVLK');
  // Each language names itself, in itself.
  assert.equal(await page.getAttribute('[data-set-lang=en]', 'lang'), 'en');
  assert.equal(await page.getAttribute('[data-set-lang=pl]', 'lang'), 'pl');
  assert.equal(await page.getAttribute('[data-set-lang=pl]', 'aria-pressed'), 'true');
  assert.equal(await page.getByRole('group', { name: 'Język' }).count(), 1);
  // Keyboard: Tab reaches the switch; Enter on English switches.
  let reached = false;
  for (let i = 0; i < 12 && !reached; i += 1) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.dataset.setLang === 'en');
  }
  assert.ok(reached, 'the English button is reachable with Tab');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  assert.equal(await page.textContent('#h-lookup'), 'GVLK lookup');
  assert.equal(await page.getAttribute('[data-set-lang=en]', 'aria-pressed'), 'true');
  assert.equal(await page.getAttribute('[data-set-lang=pl]', 'aria-pressed'), 'false');
  // The choice outlives a reload, although the browser prefers Polish.
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === '1');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await page.textContent('#h-lookup'), 'GVLK lookup');
  // Space works too, and what is on screen re-renders in place.
  await page.getByLabel('Product', { exact: true }).fill('windows 11 pro');
  await page.locator('[data-set-lang=pl]').focus();
  await page.keyboard.press('Space');
  await page.waitForFunction(() => document.documentElement.lang === 'pl');
  assert.match(await page.textContent('#result-count'), /z kluczem GVLK$/);
  assert.equal(await page.getAttribute('#results li.product button.copy >> nth=0', 'aria-label'), `Kopiuj: GVLK produktu Windows 10/11 Pro`);
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === '1');
  assert.equal(await page.getAttribute('html', 'lang'), 'pl');
  assert.equal(await page.evaluate(() => localStorage.getItem('kmsedge.lang')), 'pl');
  await context.close();
});

/** Fills each view with something to show, in the page's language. */
const VIEWS = {
  lookup: async (page) => {
    await page.fill('#q', 'visio 2019');
    await page.fill('#kms-host', 'bad host!');
    await page.locator('#host-error').waitFor({ state: 'visible' });
    await page.locator('#results li.product').first().waitFor();
  },
  key: async (page) => {
    await page.fill('#key-input', PRO_GVLK);
    await page.waitForFunction(() => document.querySelector('#key-out').dataset.kind);
  },
  decoder: async (page) => {
    await page.fill('#hex', vector.pdus.map((p) => p.hex).join('\n'));
    await page.click('#decode-btn');
    await page.locator('#conversation article[data-type=response] [data-field=checks]').waitFor();
    await page.evaluate(() => { for (const d of document.querySelectorAll('#conversation details')) d.open = true; });
  },
  dns: async (page) => {
    await page.fill('#dns-domain', 'corp.example.com');
    await page.fill('#dns-host', 'kms1');
    await page.locator('#dns-out').waitFor({ state: 'visible' });
  },
  help: async (page) => {
    await page.locator('#view-help table.help-srv:visible').waitFor();
  },
};

for (const lang of ['en', 'pl']) {
  test(`every view in ${lang}: a screenshot, no text of the other language, every control labelled`, async () => {
    const { context, page } = await pageIn(lang);
    for (const [view, fill] of Object.entries(VIEWS)) {
      await open(page, `#${view}`);
      assert.equal(await page.getAttribute('html', 'lang'), lang);
      await fill(page);
      await page.screenshot({ path: path.join(artifacts, `i18n-${view}-${lang}.png`), fullPage: true });
      await assertNoForeign(page, lang, `#${view}`);
      // Every visible control has a non-empty label in the page's language.
      const controls = await page.evaluate(() => [...document.querySelectorAll('input, textarea, select, button')]
        .filter((el) => el.offsetParent !== null)
        .map((el) => ({ id: el.id || el.outerHTML.slice(0, 60), name: (el.labels?.[0]?.textContent ?? el.getAttribute('aria-label') ?? el.textContent ?? '').trim() })));
      for (const c of controls) assert.ok(c.name, `#${view} in ${lang}: ${c.id} has no label`);
    }
    // The help is the page's language's, marked as such for screen readers.
    await open(page, '#help');
    const blocks = await page.evaluate(() => [...document.querySelectorAll('#view-help [data-lang-block]')]
      .map((b) => ({ lang: b.lang, shown: !b.hidden })));
    assert.deepEqual(blocks.filter((b) => b.shown).map((b) => b.lang), [lang]);
    const help = await page.locator('#view-help').innerText();
    for (const must of ['slmgr /ipk', 'slmgr /ato', 'kmsedge serve --host-key', '1688', 'Domain,Private', '--no-dns-publish', 'slmgr /cdns', '_vlmcs._tcp']) {
      assert.ok(help.includes(must), `help in ${lang} covers ${must}`);
    }
    const srv = await page.locator(`#view-help [data-lang-block][lang=${lang}] table.help-srv tbody tr`).allInnerTexts();
    assert.equal(srv.length, 5, 'the SRV table has service, priority, weight, port and host');
    await context.close();
  });
}

test('wasm errors are shown in the page\'s language', async () => {
  const { context, page } = await pageIn('pl');
  await open(page, '#lookup');
  await page.fill('#kms-host', 'bad host!');
  await page.locator('#host-error').waitFor({ state: 'visible' });
  assert.equal(await page.textContent('#host-error'),
    'Host KMS: "bad host!" nie jest poprawną nazwą DNS: etykieta "bad host!" od znaku 0; oczekiwano 1–63 liter, cyfr lub łączników wewnątrz');
  await open(page, '#dns');
  await page.fill('#dns-domain', 'corp.example.com');
  await page.fill('#dns-host', '192.0.2.7');
  await page.locator('#dns-error').waitFor({ state: 'visible' });
  assert.equal(await page.textContent('#dns-error'), '192.0.2.7 to adres; rekord SRV wymaga nazwy DNS hosta (najpierw utwórz dla adresu rekord A/AAAA)');
  await open(page, '#product/not-a-guid');
  assert.match(await page.textContent('#selected'), /nie jest identyfikatorem produktu/);
  await context.close();
});
