// The article's tables (tests/fixtures/article/seed-tables.tsv: row,
// section, product, key) against the page, in both languages, with the
// answers in tests/fixtures/article/expected.tsv (row, sku: the GUID the
// row's name must find first, kind of its key: gvlk | not-kms | csvlk |
// invalid, note):
//   * every row's product name typed into the lookup shows that SKU first
//     (result cards carry data-sku);
//   * every row's key pasted into the key checker gets that kind, a GVLK
//     its product (and the commands), in the page's language.
// Nothing is skipped: without the fixtures or the wasm key checker the
// test fails and says which is missing.
//
// Run: node --test tests/browser/article.test.mjs (after www/pkg/ is built;
// see scripts/test-web.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { launch } from './browser.mjs';
import { serve } from './server.mjs';
import en from '../../www/i18n/en.js';
import pl from '../../www/i18n/pl.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '../..');
const SEED = 'tests/fixtures/article/seed-tables.tsv';
const EXPECTED = 'tests/fixtures/article/expected.tsv';
const CATALOGUES = { en, pl };
const LOCALES = { en: 'en-US', pl: 'pl-PL' };
// expected.tsv's kinds → the checker's (key.js).
const KIND = { gvlk: 'gvlk', 'not-kms': 'other', csvlk: 'csvlk', invalid: 'invalid' };

/** A TSV file with a header line → objects by column name. */
function readTsv(rel) {
  const file = path.join(root, rel);
  assert.ok(fs.existsSync(file), `${rel} is missing: the article fixtures come with the lookup branch (issue 14); merge it first`);
  const [head, ...lines] = fs.readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim());
  const cols = head.split('\t');
  return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i], v.trim()])));
}

let server;
let base;
let browser;
let rows;

before(async () => {
  assert.ok(fs.existsSync(path.join(root, 'www/pkg/kmsedge_bg.wasm')), 'www/pkg is built (scripts/test-web.sh builds it)');
  const seed = readTsv(SEED);
  const expected = new Map(readTsv(EXPECTED).map((e) => [e.row, e]));
  rows = seed.map((s) => {
    const e = expected.get(s.row);
    assert.ok(e, `${EXPECTED} has no line for row ${s.row} of ${SEED}`);
    assert.ok(KIND[e.kind], `${EXPECTED} row ${s.row}: unknown kind ${JSON.stringify(e.kind)}`);
    return { ...s, sku: e.sku, kind: e.kind, note: e.note };
  });
  ({ server, url: base } = await serve(path.join(root, 'www')));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function pageIn(lang, hash) {
  const context = await browser.newContext({ locale: LOCALES[lang] });
  const page = await context.newPage();
  page.on('pageerror', (e) => { throw e; });
  await page.goto(`${base}${hash}`);
  await page.waitForFunction(() => document.body.dataset.ready === '1');
  assert.equal(await page.getAttribute('html', 'lang'), lang);
  return { context, page };
}

for (const lang of ['en', 'pl']) {
  test(`every row's name finds its product first in the lookup (${lang})`, async (t) => {
    const { context, page } = await pageIn(lang, '#lookup');
    const named = rows.filter((r) => r.sku);
    const unnamed = rows.filter((r) => !r.sku).map((r) => r.row);
    if (unnamed.length) t.diagnostic(`rows with no SKU to find in ${EXPECTED}: ${unnamed.join(', ')}`);
    assert.ok(named.length > 0, `${EXPECTED} names no SKU`);
    // Typed as a visitor types: the input event, then the first result card.
    const found = await page.evaluate((list) => list.map(({ row, product }) => {
      const q = document.getElementById('q');
      q.value = product;
      q.dispatchEvent(new Event('input', { bubbles: true }));
      return { row, first: document.querySelector('#results [data-sku]')?.dataset.sku ?? null };
    }), named.map(({ row, product }) => ({ row, product })));
    const wrong = found.filter((f, i) => f.first !== named[i].sku)
      .map((f) => { const r = rows.find((x) => x.row === f.row); return `row ${f.row} "${r.product}": first ${f.first}, expected ${r.sku}`; });
    assert.deepEqual(wrong, [], `${wrong.length} of ${named.length} rows do not find their product first`);
    await context.close();
  });

  test(`a name that matches nothing suggests the closest products (${lang})`, async () => {
    const { context, page } = await pageIn(lang, '#lookup');
    await page.fill('#q', 'Wisio Profesional 2019');
    await page.waitForSelector('#closest');
    assert.equal(await page.textContent('#result-count'), CATALOGUES[lang]['lookup.none']);
    assert.equal(await page.locator('#results [data-sku]').count(), 0, 'no product card: nothing matched');
    const names = await page.locator('#closest a').allTextContents();
    assert.ok(names.includes('Visio Professional 2019') || names.some((n) => /Visio.*2019/.test(n)), `closest: ${names.join(', ')}`);
    assert.ok((await page.textContent('#closest')).startsWith(CATALOGUES[lang]['lookup.closest']));
    await context.close();
  });

  test(`every row's key gets its kind in the key checker (${lang})`, async () => {
    const { context, page } = await pageIn(lang, '#key');
    assert.ok(await page.evaluate(async () => typeof (await import('./pkg/kmsedge.js')).check_key === 'function'),
      'www/pkg/kmsedge.js has no check_key: the wasm key checker comes with the lookup branch (issue 14); merge it first');
    const keyed = rows.filter((r) => r.key);
    const seen = await page.evaluate((list) => list.map(({ row, key }) => {
      const input = document.getElementById('key-input');
      input.value = key;
      input.dispatchEvent(new Event('input', { bubbles: true }));
      const out = document.getElementById('key-out');
      return {
        row,
        kind: out.dataset.kind,
        verdict: out.querySelector('[data-field=verdict]')?.textContent ?? '',
        sku: out.querySelector('[data-sku]')?.dataset.sku ?? null,
        gvlk: out.querySelector('[data-field=gvlk]')?.textContent ?? null,
        commands: out.querySelector('[data-field=commands]')?.textContent ?? '',
      };
    }), keyed.map(({ row, key }) => ({ row, key })));
    const c = CATALOGUES[lang];
    const wrong = [];
    seen.forEach((s, i) => {
      const r = keyed[i];
      const want = KIND[r.kind];
      if (s.kind !== want) { wrong.push(`row ${r.row} ${r.key}: ${s.kind}, expected ${want}`); return; }
      if (want === 'csvlk' && s.verdict !== c['key.csvlk']) wrong.push(`row ${r.row}: verdict "${s.verdict}"`);
      if (want === 'other' && s.verdict !== c['key.other']) wrong.push(`row ${r.row}: verdict "${s.verdict}"`);
      if (want === 'gvlk') {
        // The article's key may be the GVLK of a twin of the row's product
        // (expected.tsv's note says so): the checker shows the key's own product.
        const twin = /the article's key is the GVLK of/.test(r.note ?? '');
        if (r.sku && !twin && s.sku !== r.sku) wrong.push(`row ${r.row}: product ${s.sku}, expected ${r.sku}`);
        const twinName = twin ? r.note.match(/GVLK of (.+?)(?: \(|$)/)[1] : null;
        if (twin && !s.verdict.includes(twinName)) wrong.push(`row ${r.row}: verdict "${s.verdict}" does not name ${twinName}`);
        if (s.gvlk !== r.key) wrong.push(`row ${r.row}: the product shown has GVLK ${s.gvlk}, not the key`);
        if (!s.commands.includes(r.key)) wrong.push(`row ${r.row}: the commands do not install the key`);
      }
      if (want === 'invalid' && !s.verdict.startsWith(c['key.invalid'].replace(/\.$/, ''))) wrong.push(`row ${r.row}: verdict "${s.verdict}"`);
    });
    assert.deepEqual(wrong, [], `${wrong.length} of ${keyed.length} keys misread`);
    await context.close();
  });
}
