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
import { launch } from './browser.mjs';
import { serve } from './server.mjs';
import en from '../../www/i18n/en.js';
import pl from '../../www/i18n/pl.js';
import { foreignPhrases, assertNoForeign } from './i18n-check.mjs';

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
  browser = await launch();
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

test('wasm errors (lookup, DNS, decoder) are shown in the page\'s language', async () => {
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
  // The decoder's: a bad hex digit, and a conversation cut inside its second PDU.
  await open(page, '#decoder');
  await page.fill('#hex', '05 00 0b 0g');
  await page.click('#decode-btn');
  await page.waitForFunction(() => /wiersz/.test(document.getElementById('decode-error').textContent));
  assert.equal(await page.textContent('#decode-error'),
    "dane szesnastkowe, wiersz 1, kolumna 11 (znak 10): nieoczekiwany znak 'g'; oczekiwano cyfr szesnastkowych, odstępu, ',' lub prefiksu 0x");
  const hex = vector.pdus[0].hex + vector.pdus[1].hex.slice(0, 40);
  await page.fill('#hex', hex);
  await page.click('#decode-btn');
  await page.locator('#conversation article.pdu.err').waitFor();
  const first = vector.pdus[0].hex.length / 2;
  assert.equal(await page.textContent('#conversation article.pdu.err [data-field=error]'),
    `bajt ${first + 20}: dane kończą się wewnątrz PDU bind_ack (od bajtu ${first}): oczekiwano ${vector.pdus[1].frag_len} B, jest 20`);
  await context.close();
});

test('key checker: a GVLK shows its product and commands, a mistyped key is invalid, in both languages', async () => {
  for (const lang of ['en', 'pl']) {
    const { context, page } = await pageIn(lang);
    await open(page, '#key');
    assert.ok(await page.evaluate(async () => typeof (await import('./pkg/kmsedge.js')).check_key === 'function'),
      'www/pkg/kmsedge.js has no check_key: the wasm key checker comes with the lookup branch (issue 14); merge it first');
    const c = CATALOGUES[lang];
    // Pasted in lower case without dashes: still the Pro GVLK.
    await page.getByLabel(c['key.label'], { exact: true }).fill(PRO_GVLK.replaceAll('-', '').toLowerCase());
    await page.waitForFunction(() => document.querySelector('#key-out').dataset.kind === 'gvlk');
    assert.equal(await page.textContent('#key-out [data-field=verdict]'), c['key.gvlk'].replace('{name}', 'Windows 10/11 Pro'));
    assert.equal(await page.getAttribute('#key-out li.product', 'data-sku'), '2de67392-b7a7-462a-b1ca-108dd189f588');
    assert.match(await page.textContent('#key-out [data-field=commands]'), new RegExp(`^slmgr /ipk ${PRO_GVLK}\n`));
    // One character changed: invalid, and when the checker can tell, the group of five named.
    const typo = `${PRO_GVLK.slice(0, 6)}${PRO_GVLK[6] === 'X' ? 'Y' : 'X'}${PRO_GVLK.slice(7)}`;
    await page.getByLabel(c['key.label'], { exact: true }).fill(typo);
    await page.waitForFunction(() => document.querySelector('#key-out').dataset.kind === 'invalid');
    const verdict = page.locator('#key-out [data-field=verdict]');
    const suspect = await verdict.getAttribute('data-suspect');
    if (suspect) {
      const n = Number(suspect);
      const chars = typo.replaceAll('-', '').slice((n - 1) * 5, n * 5);
      assert.equal(await verdict.textContent(), c['key.invalid.group'].replace('{group}', String(n)).replace('{chars}', chars));
    } else {
      assert.equal(await verdict.textContent(), c['key.invalid']);
    }
    await page.screenshot({ path: path.join(artifacts, `i18n-key-invalid-${lang}.png`) });
    await context.close();
  }
});

test('Polish, longer than English, still fits a phone-sized viewport', async () => {
  const context = await browser.newContext({ locale: 'pl-PL', viewport: { width: 375, height: 740 }, deviceScaleFactor: 2, isMobile: true });
  const page = await context.newPage();
  page.on('pageerror', (e) => { throw e; });
  for (const [view, fill] of Object.entries(VIEWS)) {
    await open(page, `#${view}`);
    await fill(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `#${view} in pl: no horizontal scrolling (overflow ${overflow}px)`);
    if (view === 'help' || view === 'key') await page.screenshot({ path: path.join(artifacts, `i18n-${view}-pl-phone.png`), fullPage: true });
  }
  await context.close();
});
