// The host dashboard in Polish and in English, against a real `kmsedge
// serve` (loopback, no admin token, so the page shows it at once) with a
// few activations: each language from the browser, a full-page screenshot
// (test-artifacts/i18n-host-<lang>.png), no phrase of the other language,
// dates and counts as Intl formats them, and a switch of language that
// re-words the dashboard in place with its data.
//
// Run: node --test tests/browser/dashboard-i18n.test.mjs (www/pkg built;
// the kmsedge binary is $KMSEDGE_BIN, else the debug build, see
// dashboard-hosts.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as H from './dashboard-hosts.mjs';
import { CATALOGUES, assertNoForeign } from './i18n-check.mjs';

const LOCALES = { en: 'en-US', pl: 'pl-PL' };
let bin;
let host;
let dataDir;
let browser;

before(async () => {
  assert.ok(fs.existsSync(path.join(H.root, 'www/pkg/kmsedge_bg.wasm')), 'www/pkg is built (scripts/test-web.sh builds it)');
  bin = H.kmsedgeBin();
  dataDir = H.tempDir('kmsedge-dashboard-i18n-');
  host = await H.startNative({ bin, token: null, dataDir });
  const r = await H.activate(bin, host.kms, { product: 'Windows 10/11 Pro', requests: 3 });
  assert.equal(r.activated, 3, r.error ?? '');
  const s = await H.activate(bin, host.kms, { product: 'Windows Server 2022 Standard', workstation: 'SRV-ONE' });
  assert.equal(s.activated, 1, s.error ?? '');
  browser = await H.launch();
});

after(async () => {
  await browser?.close().catch(() => {});
  await H.stopAll();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function openHost(lang) {
  const m = await H.newPage(browser, host.base, { locale: LOCALES[lang] });
  await m.page.goto(`${host.base}#host`);
  await m.page.waitForFunction(() => document.getElementById('hd-data')?.dataset.updates
    && document.querySelectorAll('#hd-clients tbody tr:not(.hd-empty)').length === 4
    && document.getElementById('hd-events')?.querySelectorAll('tbody tr:not(.hd-empty)').length === 4, null, { timeout: 20_000 });
  // Auto-refresh off, so the screenshot and the checks see one state.
  await m.page.uncheck('#hd-auto');
  await m.page.evaluate(() => { for (const d of document.querySelectorAll('#hd-data details')) d.open = true; });
  return m;
}

for (const lang of ['en', 'pl']) {
  test(`the host dashboard in ${lang}: every section in the page's language, dates and numbers by Intl`, async () => {
    const m = await openHost(lang);
    const { page } = m;
    const c = CATALOGUES[lang];
    assert.equal(await page.getAttribute('html', 'lang'), lang);
    assert.equal(await page.textContent('#hd-h-status'), c['hd.status']);
    assert.equal(await page.textContent('#hd-h-events'), c['ev.title']);
    await page.screenshot({ path: path.join(H.artifacts, `i18n-host-${lang}.png`), fullPage: true });
    await assertNoForeign(page, lang, '#host');
    // The started time and the clients' times are Intl's for the language.
    const status = await H.apiGet(host.base, null, 'api/status');
    const fmt = new Intl.DateTimeFormat(lang, { dateStyle: 'short', timeStyle: 'medium' });
    assert.equal(await page.textContent('[data-field=started_at]'), fmt.format(new Date(status.started_at * 1000)));
    const renewal = status.policy.renewal_interval;
    assert.equal(await page.textContent('[data-field=renewal_interval]'),
      `${c['hd.minutes.with'].replace('{minutes}', (c['hd.minutes'][new Intl.PluralRules(lang).select(renewal)] ?? c['hd.minutes'].other)
        .replace('{n}', new Intl.NumberFormat(lang).format(renewal)))
        .replace('{parts}', (c['hd.days'][new Intl.PluralRules(lang).select(renewal / 1440)] ?? c['hd.days'].other).replace('{n}', String(renewal / 1440)))}`);
    // What the API words in English (ePID origin, licence states) shows in the page's language.
    const origins = await page.$$eval('#hd-data [data-field=origin]', (tds) => tds.map((td) => td.textContent));
    assert.ok(origins.length > 0 && origins.every((o) => o === c['hd.origin.generated']), origins.join(', '));
    const states = await page.$$eval('#hd-clients td[data-col=license_status]', (tds) => tds.map((td) => td.textContent));
    assert.ok(states.length === 4 && states.every((x) => Object.keys(c).some((k) => k.startsWith('hd.dlv.') && c[k] === x)), states.join(', '));
    // Every visible control has a label.
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('#view-host input, #view-host select')]
      .filter((el) => el.offsetParent !== null && !el.labels?.length && !el.getAttribute('aria-label') && !el.closest('label'))
      .map((el) => el.id));
    assert.deepEqual(unlabelled, []);
    assert.deepEqual(m.problems, [], 'no external request, no page error');
    await m.context.close();
  });
}

test('switching language re-words the dashboard in place and keeps its data and sort', async () => {
  const m = await openHost('pl');
  const { page } = m;
  await page.click('#hd-clients th[data-sort=workstation] button');
  await page.waitForFunction(() => document.querySelector('#hd-clients th[data-sort=workstation]').getAttribute('aria-sort') === 'ascending');
  const rows = await page.$$eval('#hd-clients tbody tr', (trs) => trs.map((tr) => tr.dataset.cmid));
  await page.click('[data-set-lang=en]');
  await page.waitForFunction(() => document.getElementById('hd-h-status')?.textContent === 'Status');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await page.getAttribute('#hd-clients th[data-sort=workstation]', 'aria-sort'), 'ascending');
  assert.deepEqual(await page.$$eval('#hd-clients tbody tr', (trs) => trs.map((tr) => tr.dataset.cmid)), rows);
  await assertNoForeign(page, 'en', '#host after the switch');
  assert.deepEqual(m.problems, [], 'no external request, no page error');
  await m.context.close();
});

test('the Settings section in Polish: fields, notes, checks and confirmation in the page language, and back in English on a switch', async () => {
  // A change at runtime first, so the section's "changed" line and a setting event show.
  const r = await fetch(new URL('api/settings', host.base), {
    method: 'PUT', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ setting: 'activation_interval', value: '60' }),
  });
  assert.equal(r.status, 200, await r.text());
  const m = await H.newPage(browser, host.base, { locale: LOCALES.pl });
  const { page } = m;
  await page.goto(`${host.base}#host`);
  await page.waitForFunction(() => document.getElementById('st-ai')?.value === '60'
    && document.querySelector('#hd-events tbody tr[data-kind="setting"]'), null, { timeout: 20_000 });
  await page.uncheck('#hd-auto');
  const c = CATALOGUES.pl;
  assert.equal(await page.textContent('#hd-h-settings'), c['st.heading']);
  assert.equal(await page.textContent('label[for=st-ai]'), c['st.activation']);
  assert.equal(await page.textContent('#st-priority option[value=low]'), c['st.low']);
  // What the host words in English (its fixed notes, the names of changed settings) shows in Polish.
  assert.equal(await page.textContent('#st-dns-note'), c['st.note.dns.unconfigured']);
  assert.equal(await page.textContent('#st-changed'), c['st.changed'].replace('{names}', c['st.activation']));
  assert.equal(await page.textContent('#st-keys'), c['st.keys.none']);
  assert.equal(await page.textContent('#hd-events tbody tr[data-kind="setting"] td:nth-child(2)'), c['ev.setting'].replace('{id}', '1000'));
  assert.equal(await page.textContent('#hd-events tbody tr[data-kind="setting"] td:nth-child(4)'), c['st.activation']);
  assert.equal(await page.textContent('#hd-events tbody tr[data-kind="setting"] td:nth-child(6)'), c['hd.minutes'].many.replace('{n}', '60'));
  // The inline check and the confirmation: numbers by Intl, minutes by Polish plural rules.
  await page.fill('#st-ai', '44000');
  const nf = new Intl.NumberFormat('pl');
  assert.equal(await page.textContent('#st-ai-error'), c['st.not.minutes'].replace('{min}', nf.format(15)).replace('{max}', nf.format(43200)));
  await page.fill('#st-ai', '22');
  await page.click('#st-apply');
  await page.locator('#st-confirm').waitFor({ state: 'visible' });
  assert.equal(await page.textContent('#st-confirm-list'), c['st.affects.ai'].few.replace('{n}', '22'));
  await page.screenshot({ path: path.join(H.artifacts, 'i18n-settings-pl.png'), fullPage: true });
  await assertNoForeign(page, 'pl', '#host settings');
  await page.click('#st-confirm-no');
  assert.equal((await H.apiGet(host.base, null, 'api/settings')).activation_interval, 60, 'cancelled: unchanged');

  await page.click('[data-set-lang=en]');
  await page.waitForFunction(() => document.getElementById('hd-h-settings')?.textContent === 'Settings'
    && document.getElementById('st-ai')?.value === '60');
  assert.equal(await page.textContent('#st-dns-note'), CATALOGUES.en['st.note.dns.unconfigured']);
  assert.equal(await page.textContent('#st-changed'), 'Changed on the running host: Activation interval (minutes)');
  await assertNoForeign(page, 'en', '#host settings after the switch');
  assert.deepEqual(m.problems, [], 'no external request, no page error');
  await m.context.close();
});
