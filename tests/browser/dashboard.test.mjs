// The host dashboard (#host) against a real `kmsedge serve` started here
// (loopback only, admin token, a product scope that refuses one product),
// driven by `kmsedge activate`: the token flow (missing, wrong, right,
// revoked, sign-out), the status in the `slmgr /dlv` layout, counts
// against the thresholds, the clients table (filter, counted id, sort,
// paging), the CSV export of all pages, the events table (filters, paging,
// the host's CSV), the chart (hourly/daily, failures,
// text alternative), auto-refresh in place, and a phone-sized viewport.
// Screenshots go to test-artifacts/dashboard-*.png.
//
// Run: node --test tests/browser/dashboard.test.mjs (www/pkg built, see
// scripts/test-web.sh). The kmsedge binary is $KMSEDGE_BIN, else the debug
// build, which this test brings up to date (a debug build serves www/ from
// disk, so the page tested is the working tree's).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as H from './dashboard-hosts.mjs';

const KMS = {
  win: '58e2134f-8e11-4d17-9cb2-91069c151148', // Windows 10/11 2015 (Volume), threshold 25
  srv22: 'b74263e4-0f92-46c6-bcf8-c11d5efe2959', // Windows Server 2022, threshold 5
  office: 'e6a6f1bf-9d40-40c3-aa9f-c77ba21578c0', // Office 2013, threshold 5
  srv19: '8449b1fb-f0ea-497a-99ab-66ca96e9a0f5', // Windows Server 2019: outside the scope below
};
const WIN_APP = '55c92734-d682-4d71-983e-d6ec3f16059f';
const BULK = 26; // random CMIDs of Windows 10/11 Pro: more than one page of 25
// Named clients, each its own CMID.
const NAMED = [
  { workstation: 'PC-ALPHA', product: 'Windows 10/11 Pro', cmid: '11111111-1111-4111-8111-111111111111' },
  { workstation: 'PC-BRAVO', product: 'Windows 10/11 Pro', cmid: '22222222-2222-4222-8222-222222222222' },
  { workstation: 'PC-CHARLIE', product: 'Windows 10/11 Pro', cmid: '33333333-3333-4333-8333-333333333333' },
  { workstation: 'PC-DELTA', product: 'Windows 10/11 Enterprise', cmid: '44444444-4444-4444-8444-444444444444' },
  { workstation: 'SRV-ECHO', product: 'Windows Server 2022 Standard', cmid: '55555555-5555-4555-8555-555555555555' },
  { workstation: 'SRV-FOXTROT', product: 'Windows Server 2022 Datacenter', cmid: '66666666-6666-4666-8666-666666666666' },
  { workstation: 'Lab, "Room 7"', product: 'Office Professional Plus 2013', cmid: '77777777-7777-4777-8777-777777777777' },
];
const REFUSED = { workstation: 'SRV-HOTEL', product: 'Windows Server 2019 Standard', cmid: '88888888-8888-4888-8888-888888888888' };
const LATE = { workstation: 'SRV-GOLF', product: 'Windows Server 2022 Standard', cmid: '99999999-9999-4999-8999-999999999999' };
const CSV_HEADER = ['workstation', 'cmid', 'product', 'counted_id_name', 'kms_id', 'sku', 'application', 'license_status',
  'remote', 'protocol', 'first_seen_utc', 'last_seen_utc', 'requests', 'last_result'];

let bin;
let host;
let dataDir;
let httpPort;
let browser;
let main; // { context, page, problems, apiCalls } signed in through the tests below
let clientsTotal = BULK + NAMED.length + 1;
let requestsTotal = BULK + NAMED.length + 2; // PC-ALPHA twice, and the refused one

const scopeArgs = ['--scope', 'list', '--kms-id', KMS.win, '--kms-id', KMS.srv22, '--kms-id', KMS.office];

before(async () => {
  assert.ok(fs.existsSync(path.join(H.root, 'www/pkg/kmsedge_bg.wasm')), 'www/pkg is built (scripts/test-web.sh builds it)');
  bin = H.kmsedgeBin();
  dataDir = H.tempDir('kmsedge-dashboard-');
  httpPort = await H.freePort();
  host = await H.startNative({ bin, token: H.secret(), dataDir, httpPort, args: scopeArgs });

  const bulk = await H.activate(bin, host.kms, { product: 'Windows 10/11 Pro', requests: BULK });
  assert.equal(bulk.activated, BULK, bulk.error ?? '');
  for (const c of NAMED) {
    const r = await H.activate(bin, host.kms, c);
    assert.equal(r.activated, 1, `${c.workstation}: ${r.error}`);
  }
  assert.equal((await H.activate(bin, host.kms, NAMED[0])).activated, 1, 'PC-ALPHA renews');
  const refused = await H.activate(bin, host.kms, REFUSED);
  assert.equal(refused.activated, 0);
  assert.notEqual(refused.exitCode, 0);
  assert.equal(refused.requests[0].hresult, '0xC004F042', 'a product outside the scope is refused');

  browser = await H.launch();
  main = await H.newPage(browser, host.base);
});

after(async () => {
  await browser?.close().catch(() => {});
  await H.stopAll();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

const shot = (page, name, opts = {}) => page.screenshot({ path: path.join(H.artifacts, `dashboard-${name}.png`), ...opts });
const updates = (page) => page.evaluate(() => Number(document.getElementById('hd-data').dataset.updates ?? 0));
const waitUpdate = async (page, after) => page.waitForFunction((n) => Number(document.getElementById('hd-data').dataset.updates ?? 0) > n, after, { timeout: 20_000 });
const rowNames = (page) => page.$$eval('#hd-clients tbody tr', (trs) => trs.map((tr) => tr.querySelector('th')?.textContent ?? ''));
const noProblems = (m) => assert.deepEqual(m.problems, [], 'no external request, no page error');

/** Sets the clients filter and waits until the table shows it. */
async function filter(page, q, rows) {
  await page.getByLabel('Filter clients').fill(q);
  await page.waitForFunction(({ q, rows }) => {
    const n = document.querySelectorAll('#hd-clients tbody tr:not(.hd-empty)').length;
    return document.getElementById('hd-data').dataset.clientsTotal === String(rows) && n === Math.min(rows, 25)
      && document.getElementById('hd-q').value === q;
  }, { q, rows }, { timeout: 10_000 });
}

async function signIn(page, token) {
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Show the host' }).click();
}

async function hostData(page) {
  // Everything the host told the page lives in #hd-data; its ePIDs and HwId must be nowhere.
  return page.evaluate(() => ({
    children: document.getElementById('hd-data').childElementCount,
    hidden: document.getElementById('hd-data').hidden,
    text: document.body.innerText,
    stored: sessionStorage.getItem('kmsedge.adminToken'),
  }));
}

test('served by the host: the Host entry appears and asks for the token; nothing is shown without it', async () => {
  const { page } = main;
  await page.goto(host.base);
  await page.waitForFunction(() => document.body.dataset.ready === '1');
  await page.locator('#nav-host').waitFor({ state: 'visible' });
  await page.getByRole('link', { name: 'Host' }).click();
  await page.locator('#view-host').waitFor({ state: 'visible' });
  await page.locator('#hd-login').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#hd-state'), /only with its admin token/);
  const d = await hostData(page);
  assert.equal(d.children, 0);
  assert.equal(d.hidden, true);
  assert.equal(d.stored, null);
  assert.deepEqual(main.apiCalls.map((c) => [new URL(c.url).pathname, c.authorization]), [['/api/status', null]],
    'one probe, without a token');
  await shot(page, 'login');
  noProblems(main);
});

test('a wrong token: a clear message, no host data, nothing stored', async () => {
  const { page } = main;
  const status = await H.apiGet(host.base, host.token, 'api/status');
  await signIn(page, 'not-the-admin-token');
  await page.locator('#hd-auth-error').waitFor({ state: 'visible' });
  const err = await page.textContent('#hd-auth-error');
  assert.match(err, /refused the admin token/);
  assert.match(err, /wrong admin token/, 'the host’s reason is shown');
  const d = await hostData(page);
  assert.equal(d.children, 0);
  assert.equal(d.stored, null);
  assert.ok(!d.text.includes(status.identity.hwid), 'no HwId on the page');
  assert.ok(!d.text.includes('PC-ALPHA'), 'no client on the page');
  assert.ok(!page.url().includes('not-the-admin-token'), 'the token is never in the URL');
  const last = main.apiCalls.at(-1);
  assert.equal(last.authorization, 'Bearer not-the-admin-token');
  await shot(page, 'wrong-token');
  noProblems(main);
});

test('the right token: status in the slmgr /dlv layout, identity, policy, counts against thresholds', async () => {
  const { page } = main;
  const before = main.apiCalls.length;
  await signIn(page, host.token);
  await waitUpdate(page, 0);
  assert.equal(await page.isVisible('#hd-login'), false);
  assert.equal(await page.isVisible('#hd-auth-error'), false);
  const d = await hostData(page);
  assert.equal(d.stored, host.token, 'kept in sessionStorage');
  assert.ok(!page.url().includes(host.token), 'the token is never in the URL');
  const calls = main.apiCalls.slice(before);
  assert.ok(calls.length >= 3);
  for (const c of calls) assert.equal(c.authorization, `Bearer ${host.token}`, `${c.url} carries the token`);
  for (const c of calls) assert.ok(!c.url.includes(host.token));

  const s = await H.apiGet(host.base, host.token, 'api/status');
  const field = (k) => page.textContent(`#hd-data [data-field="${k}"]`);
  assert.equal(await field('hwid'), s.identity.hwid);
  assert.match(await field('runtime'), /native/);
  assert.equal(await field('listen'), host.kms);
  assert.equal(await field('host_build'), String(s.identity.host_build));
  for (const e of s.identity.epids) {
    assert.equal(await page.textContent(`#hd-data tr[data-slot="${e.slot}"] [data-field=epid]`), e.epid, e.slot);
    // generated, fixed, or "installed key …ABCDE" (never the whole key).
    assert.equal(await page.textContent(`#hd-data tr[data-slot="${e.slot}"] [data-field=origin]`), e.origin, e.slot);
  }
  assert.equal(await field('activation_interval'), '120 minutes (2 hours)');
  assert.equal(await field('renewal_interval'), '10,080 minutes (7 days)'); // numbers in the page's language (en)
  assert.match(await field('count_mode'), /^sufficient/);
  assert.match(await field('scope'), /^only 3 counted ids: /);
  for (const id of [KMS.win, KMS.srv22, KMS.office]) assert.ok((await field('scope')).includes(id));
  assert.match(await field('time_skew'), /^on: .* 4 h off \(14,400 s\)$/);
  assert.match(await field('uptime'), /\d+ (s|min)/);
  assert.equal(await page.isVisible('#hd-data [data-field=dns_state]'), true, 'the native host reports its DNS state');
  assert.equal(await field('dns_state'), 'off');

  // slmgr /dlv counters.
  const counter = (k) => page.textContent(`#hd-dlv [data-counter="${k}"]`);
  assert.equal(s.counters.total, requestsTotal);
  assert.equal(await counter('total'), String(requestsTotal));
  assert.equal(await counter('failed'), '1');
  const dlv = await page.textContent('#hd-dlv');
  assert.match(dlv, /Total requests received:/);
  assert.match(dlv, /Failed requests received:/);
  assert.match(dlv, /Requests with License Status Initial grace period:/);
  for (const [name, n] of Object.entries(s.counters.by_license_status)) {
    assert.equal(await counter(`status:${name}`), String(n), name);
  }

  // Counts per counted id: what the API says, and what we activated.
  const want = {
    [KMS.win]: { genuine: BULK + 4, clients: BULK + 4, threshold: 25, group: BULK + 6, reached: true },
    [KMS.srv22]: { genuine: 2, clients: 2, threshold: 5, group: BULK + 6, reached: true },
    [KMS.office]: { genuine: 1, clients: 1, threshold: 5, group: 1, reached: false },
    [KMS.srv19]: { genuine: 0, clients: 1, threshold: 5, group: BULK + 6, reached: true },
  };
  assert.equal(s.counts.length, 4);
  for (const c of s.counts) {
    const w = want[c.kms_id];
    assert.ok(w, c.kms_id);
    assert.deepEqual([c.genuine, c.clients, c.threshold, c.group_genuine], [w.genuine, w.clients, w.threshold, w.group], c.name);
    const li = page.locator(`#hd-counts li[data-kms-id="${c.kms_id}"]`);
    assert.equal(await li.getAttribute('data-genuine'), String(c.genuine));
    assert.equal(await li.getAttribute('data-threshold'), String(c.threshold));
    assert.equal(await li.getAttribute('data-reported'), String(c.reported));
    assert.equal(await li.evaluate((el) => el.classList.contains('reached')), w.reached, `${c.name}: threshold reached`);
    assert.equal(await li.locator('h3').textContent(), c.name);
    const facts = await li.locator('.hd-facts').textContent();
    assert.ok(facts.includes(`Genuine machines: ${c.genuine}`), facts);
    assert.ok(facts.includes(`threshold: ${c.threshold}`), facts);
    assert.match(await li.locator('.hd-verdict').textContent(), new RegExp(`^Reports ${c.reported} under the “sufficient” policy: clients activate`));
    // The bar: own count and threshold marker in proportion.
    const bar = await li.locator('.hd-bar').evaluate((b) => {
      const w = b.getBoundingClientRect().width;
      return { own: b.querySelector('.hd-bar-own').getBoundingClientRect().width / w,
        mark: (b.querySelector('.hd-bar-mark').getBoundingClientRect().left - b.getBoundingClientRect().left) / w,
        label: b.getAttribute('aria-label') };
    });
    assert.ok(Math.abs(bar.own / bar.mark - c.genuine / c.threshold) < 0.05, `${c.name}: bar ${JSON.stringify(bar)}`);
    assert.match(bar.label, new RegExp(`^${c.genuine} genuine of threshold ${c.threshold}`));
  }
  assert.equal(s.counts.find((c) => c.kms_id === KMS.office).application, '0ff1ce15-a989-479d-af46-f275c6370663');
  assert.equal(s.counts.find((c) => c.kms_id === KMS.win).application, WIN_APP);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'native', { fullPage: true });
  noProblems(main);
});

test('clients: every client in the table, filter, counted id, sort both ways, paging', async () => {
  const { page } = main;
  const api = await H.allClients(host.base, host.token);
  assert.equal(api.length, clientsTotal);
  assert.match(await page.textContent('#hd-range'), new RegExp(`^Clients 1–25 of ${clientsTotal}$`));
  assert.equal((await rowNames(page)).length, 25);
  assert.equal(await page.textContent('#hd-page'), 'Page 1 of 2');
  assert.equal(await page.isDisabled('#hd-prev'), true);

  // Page 2 holds the rest; every client appears on one of the pages.
  const seen = new Set(await page.$$eval('#hd-clients tbody tr', (t) => t.map((r) => r.dataset.cmid)));
  await page.getByRole('button', { name: 'Next' }).click();
  await page.waitForFunction(() => document.getElementById('hd-page').textContent === 'Page 2 of 2');
  await page.waitForFunction((n) => document.querySelectorAll('#hd-clients tbody tr').length === n, clientsTotal - 25);
  for (const c of await page.$$eval('#hd-clients tbody tr', (t) => t.map((r) => r.dataset.cmid))) seen.add(c);
  assert.deepEqual([...seen].sort(), api.map((r) => r.cmid).sort());
  assert.equal(await page.isDisabled('#hd-next'), true);
  await page.getByRole('button', { name: 'Previous' }).click();
  await page.waitForFunction(() => document.getElementById('hd-page').textContent === 'Page 1 of 2');

  // The refused client and what the table says of it.
  await filter(page, 'SRV-HOTEL', 1);
  const cells = await page.$$eval('#hd-clients tbody tr td, #hd-clients tbody tr th', (t) => Object.fromEntries(t.map((c) => [c.dataset.col, c.textContent])));
  assert.equal(cells.workstation, 'SRV-HOTEL');
  assert.equal(cells.cmid, REFUSED.cmid);
  assert.match(cells.kms_id, /^Windows Server 2019 Standard/);
  assert.match(cells.last_hresult, /^0xC004F042product not served/);
  assert.equal(cells.remote, '127.0.0.1');
  assert.match(cells.license_status, /grace|Unlicensed|Licensed|Notification/);
  assert.match(cells.first_seen, /^\d{1,2}\/\d{1,2}\/\d\d, \d{1,2}:\d\d:\d\d\s[AP]M$/); // Intl, en-US: short date, time with seconds

  // Filter, then sort by workstation both ways.
  await filter(page, 'SRV-', 3);
  const sortBtn = page.locator('#hd-clients thead th[data-sort=workstation] button');
  await sortBtn.click();
  await page.waitForFunction(() => [...document.querySelectorAll('#hd-clients tbody th')].map((t) => t.textContent).join() === 'SRV-ECHO,SRV-FOXTROT,SRV-HOTEL');
  assert.equal(await page.getAttribute('#hd-clients thead th[data-sort=workstation]', 'aria-sort'), 'ascending');
  assert.equal(await page.getAttribute('#hd-clients thead th[data-sort=last_seen]', 'aria-sort'), null);
  await sortBtn.click();
  await page.waitForFunction(() => [...document.querySelectorAll('#hd-clients tbody th')].map((t) => t.textContent).join() === 'SRV-HOTEL,SRV-FOXTROT,SRV-ECHO');
  assert.equal(await page.getAttribute('#hd-clients thead th[data-sort=workstation]', 'aria-sort'), 'descending');

  // The counted-id filter combines with the text.
  await page.getByLabel('Counted id', { exact: true }).selectOption(KMS.srv22);
  await page.waitForFunction(() => [...document.querySelectorAll('#hd-clients tbody th')].map((t) => t.textContent).join() === 'SRV-FOXTROT,SRV-ECHO');
  assert.match(await page.textContent('#hd-range'), /^Clients 1–2 of 2 matching the filter$/);
  await page.getByLabel('Counted id', { exact: true }).selectOption('');

  // Product names match too (the API looks them up in the catalogue).
  await filter(page, 'office professional plus', 1);
  assert.deepEqual(await rowNames(page), ['Lab, "Room 7"']);
  // Sort by requests: PC-ALPHA (2 requests) first.
  await filter(page, 'PC-', 4);
  await page.locator('#hd-clients thead th[data-sort=requests] button').click();
  await page.waitForFunction(() => document.querySelector('#hd-clients tbody th')?.textContent === 'PC-ALPHA'
    && document.querySelector('#hd-clients thead th[data-sort=requests]').getAttribute('aria-sort') === 'descending');
  assert.equal(await page.textContent('#hd-clients tbody tr:first-child td[data-col=requests]'), '2');
  await filter(page, 'no such machine', 0);
  assert.equal(await page.textContent('#hd-clients tbody'), 'No client matches the filter.');
  assert.equal(await page.isDisabled('#hd-export'), true);
  await filter(page, '', clientsTotal);
  noProblems(main);
});

async function download(page, artifact) {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 20_000 }), page.getByRole('button', { name: 'Export CSV' }).click()]);
  const file = path.join(H.artifacts, artifact);
  await dl.saveAs(file);
  return { name: dl.suggestedFilename(), text: fs.readFileSync(file, 'utf8') };
}

test('CSV export: every page of the current filter, RFC 4180 quoting', async () => {
  const { page } = main;
  await page.getByLabel('Counted id', { exact: true }).selectOption('');
  await filter(page, '', clientsTotal);
  // Page size 25, so the export must fetch beyond the page shown.
  const all = await download(page, 'dashboard-clients.csv');
  assert.match(all.name, /^kmsedge-clients-\d{8}-\d{6}\.csv$/);
  assert.ok(all.text.endsWith('\r\n'));
  const rows = H.parseCsv(all.text);
  assert.deepEqual(rows[0], CSV_HEADER);
  assert.equal(rows.length - 1, clientsTotal, 'one line per client, all pages');
  const api = await H.allClients(host.base, host.token);
  const byCmid = new Map(api.map((r) => [r.cmid, r]));
  for (const r of rows.slice(1)) {
    const o = Object.fromEntries(CSV_HEADER.map((k, i) => [k, r[i]]));
    const a = byCmid.get(o.cmid);
    assert.ok(a, o.cmid);
    assert.equal(o.workstation, a.workstation);
    assert.equal(o.product, a.sku_name);
    assert.equal(o.counted_id_name, a.product);
    assert.equal(o.kms_id, a.kms_id);
    assert.equal(o.license_status, a.license_status_name);
    assert.equal(o.remote, a.remote);
    assert.equal(o.requests, String(a.requests));
    assert.equal(o.last_result, a.last_hresult);
    assert.equal(o.last_seen_utc, new Date(a.last_seen * 1000).toISOString().replace('.000Z', 'Z'));
  }
  // The workstation with a comma and quotes is quoted, quotes doubled.
  const lab = all.text.split('\r\n').find((l) => l.includes('Room 7'));
  assert.ok(lab.startsWith('"Lab, ""Room 7""",77777777-7777-4777-8777-777777777777,Office Professional Plus 2013,'), lab);

  // With a filter: only its rows.
  await filter(page, 'SRV-', 3);
  const some = await download(page, 'dashboard-clients-filtered.csv');
  assert.match(some.name, /-filtered\.csv$/);
  const srows = H.parseCsv(some.text);
  assert.deepEqual(srows[0], CSV_HEADER);
  assert.deepEqual(srows.slice(1).map((r) => r[0]).sort(), ['SRV-ECHO', 'SRV-FOXTROT', 'SRV-HOTEL']);
  const hotel = srows.find((r) => r[0] === 'SRV-HOTEL');
  assert.equal(hotel[CSV_HEADER.indexOf('last_result')], '0xC004F042');
  assert.match(await page.textContent('#hd-export-status'), /^Exported 3 clients to kmsedge-clients-/);
  await filter(page, '', clientsTotal);
  noProblems(main);
});

const EVENTS = 'section[aria-labelledby=hd-h-events]';
/** Waits until the Events table says it holds `n` events. */
const eventsTotal = (page, n) => page.waitForFunction(({ sel, n }) => document.querySelector(sel)?.dataset.total === String(n), { sel: EVENTS, n }, { timeout: 20_000 });

test('events: one per request, newest first, filters, paging and the host’s CSV', async () => {
  const { page } = main;
  await eventsTotal(page, requestsTotal);
  assert.equal(await page.textContent('#hd-ev-range'), `Events 1–25 of ${requestsTotal}`);
  const first = await page.$$eval('#hd-events tbody tr:first-child td', (tds) => tds.map((t) => t.textContent));
  assert.deepEqual(first.slice(1, 4), ['12290 request', '0xC004F042', 'SRV-HOTEL'], 'the newest is the refused request');
  assert.equal(first[6], '—', 'a refusal reports no count');
  await page.selectOption('#hd-ev-result', 'error');
  await eventsTotal(page, 1);
  await page.selectOption('#hd-ev-result', '');
  await page.fill('#hd-ev-ws', 'pc-');
  await eventsTotal(page, 5); // PC-ALPHA twice, BRAVO, CHARLIE, DELTA
  await page.fill('#hd-ev-ws', '');
  await eventsTotal(page, requestsTotal);
  await page.click('#hd-ev-next');
  await page.waitForFunction((t) => document.getElementById('hd-ev-range').textContent === `Events 26–${t} of ${t}`, requestsTotal);
  assert.equal(await page.isDisabled('#hd-ev-next'), true);
  await page.click('#hd-ev-prev');

  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 20_000 }), page.click('#hd-ev-csv')]);
  assert.match(dl.suggestedFilename(), /^kmsedge-events-\d{8}-\d{6}\.csv$/);
  const file = path.join(H.artifacts, 'dashboard-events.csv');
  await dl.saveAs(file);
  const rows = H.parseCsv(fs.readFileSync(file, 'utf8'));
  assert.deepEqual(rows[0].slice(0, 5), ['time', 'time_utc', 'kind', 'event_id', 'result']);
  assert.equal(rows.length - 1, requestsTotal, 'every event of the filter, not one page');
  const ws = rows[0].indexOf('workstation');
  assert.ok(rows.some((r) => r[ws] === 'Lab, "Room 7"'), 'quoted fields read back whole');
  assert.match(await page.textContent('#hd-ev-export-status'), /^Saved kmsedge-events-/);
  noProblems(main);
});

test('chart: per hour (48 h) and per day (30 days), failures distinguished, with a text alternative', async () => {
  const { page } = main;
  const s = await H.apiGet(host.base, host.token, 'api/status');
  const a = await H.apiGet(host.base, host.token, 'api/activity');
  const sums = (pts) => pts.reduce((t, p) => [t[0] + p.ok, t[1] + p.failed], [0, 0]);
  assert.deepEqual(sums(a.hourly), [s.counters.total - s.counters.failed, s.counters.failed]);
  await page.locator('#hd-chart svg').scrollIntoViewIfNeeded();
  const read = () => page.evaluate(() => {
    const g = [...document.querySelectorAll('#hd-chart .hd-bucket')];
    return {
      buckets: g.length,
      ok: g.reduce((t, x) => t + Number(x.dataset.ok), 0),
      failed: g.reduce((t, x) => t + Number(x.dataset.failed), 0),
      okBars: [...document.querySelectorAll('#hd-chart .hd-bar-ok')].filter((r) => Number(r.getAttribute('height')) > 0).length,
      failedBars: [...document.querySelectorAll('#hd-chart .hd-bar-failed')].filter((r) => Number(r.getAttribute('height')) > 0).length,
      failedFill: getComputedStyle(document.querySelector('#hd-chart pattern rect')).fill,
      okFill: getComputedStyle(document.querySelector('#hd-chart .hd-bar-ok')).fill,
      labelledBy: document.querySelector('#hd-chart svg').getAttribute('aria-labelledby'),
      role: document.querySelector('#hd-chart svg').getAttribute('role'),
      rows: document.querySelectorAll('.hd-data-table tbody tr').length,
    };
  });
  let c = await read();
  assert.equal(c.buckets, 48);
  assert.deepEqual([c.ok, c.failed], sums(a.hourly));
  assert.ok(c.okBars >= 1, 'granted bars drawn');
  assert.ok(c.failedBars >= 1, 'failed bars drawn');
  assert.notEqual(c.okFill, c.failedFill, 'failures have their own colour');
  assert.equal(c.role, 'img');
  assert.equal(c.labelledBy, 'hd-chart-summary');
  assert.equal(c.rows, 48);
  const summary = await page.textContent('#hd-chart-summary');
  assert.match(summary, new RegExp(`last 48 hours: ${s.counters.total} requests, ${s.counters.total - 1} granted and 1 failed`));
  assert.deepEqual(await page.$$eval('.hd-legend li', (l) => l.map((x) => x.textContent)), ['Granted', 'Failed (refused or in error)']);
  assert.equal(await page.getAttribute('.hd-seg button[data-period=hourly]', 'aria-pressed'), 'true');
  await page.locator('#hd-chart').screenshot({ path: path.join(H.artifacts, 'dashboard-chart-hourly.png') });

  await page.getByRole('button', { name: 'Last 30 days' }).click();
  await page.waitForFunction(() => document.getElementById('hd-chart').dataset.period === 'daily');
  c = await read();
  assert.equal(c.buckets, 30);
  assert.deepEqual([c.ok, c.failed], sums(a.daily));
  assert.equal(c.rows, 30);
  assert.equal(await page.getAttribute('.hd-seg button[data-period=daily]', 'aria-pressed'), 'true');
  assert.match(await page.textContent('#hd-chart-summary'), /last 30 days \(UTC days\): \d+ requests/);
  // The table alternative opens.
  await page.locator('.hd-data-table summary').click();
  assert.equal(await page.isVisible('.hd-data-table table'), true);
  assert.match(await page.textContent('.hd-data-table caption'), /per day/);
  await page.locator('.hd-figure').screenshot({ path: path.join(H.artifacts, 'dashboard-chart-daily.png') });
  await page.locator('.hd-data-table summary').click();
  await page.getByRole('button', { name: 'Last 48 hours' }).click();
  noProblems(main);
});

test('auto-refresh: a new activation appears in place; filter, sort, focus, scroll and page stay', async () => {
  const { page } = main;
  await filter(page, 'SRV-', 3);
  const th = '#hd-clients thead th[data-sort=workstation]';
  if (await page.getAttribute(th, 'aria-sort') !== 'ascending') await page.locator(`${th} button`).click();
  if (await page.getAttribute(th, 'aria-sort') !== 'ascending') await page.locator(`${th} button`).click();
  await page.waitForFunction(() => [...document.querySelectorAll('#hd-clients tbody th')].map((t) => t.textContent).join() === 'SRV-ECHO,SRV-FOXTROT,SRV-HOTEL');
  await page.evaluate(() => {
    window.__table = document.getElementById('hd-clients');
    window.__counts = document.getElementById('hd-counts');
    document.getElementById('hd-h-clients').scrollIntoView();
    window.scrollBy(0, -10);
  });
  await page.focus('#hd-q');
  await page.keyboard.press('End');
  const y0 = await page.evaluate(() => window.scrollY);
  assert.ok(y0 > 300, `scrolled down (${y0})`);

  const r = await H.activate(bin, host.kms, LATE);
  assert.equal(r.activated, 1, r.error ?? '');
  clientsTotal += 1;
  requestsTotal += 1;
  await page.waitForFunction(() => [...document.querySelectorAll('#hd-clients tbody th')].map((t) => t.textContent).join() === 'SRV-ECHO,SRV-FOXTROT,SRV-GOLF,SRV-HOTEL',
    null, { timeout: 20_000 });
  const st = await page.evaluate(() => ({
    sameTable: window.__table === document.getElementById('hd-clients'),
    sameCounts: window.__counts === document.getElementById('hd-counts'),
    q: document.getElementById('hd-q').value,
    focus: document.activeElement.id,
    sort: document.querySelector('#hd-clients thead th[data-sort=workstation]').getAttribute('aria-sort'),
    y: window.scrollY,
  }));
  assert.deepEqual({ ...st, y: undefined }, { sameTable: true, sameCounts: true, q: 'SRV-', focus: 'hd-q', sort: 'ascending', y: undefined });
  assert.ok(Math.abs(st.y - y0) <= 2, `scroll kept (${y0} → ${st.y})`);
  await page.waitForFunction((n) => document.querySelector('#hd-dlv [data-counter=total]').textContent === String(n), requestsTotal, { timeout: 10_000 });
  await page.waitForFunction((id) => document.querySelector(`#hd-counts li[data-kms-id="${id}"]`).dataset.genuine === '3', KMS.srv22, { timeout: 10_000 });

  // The page survives refreshes too.
  await filter(page, '', clientsTotal);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.waitForFunction(() => document.getElementById('hd-page').textContent === 'Page 2 of 2');
  const rows2 = await page.$$eval('#hd-clients tbody tr', (t) => t.map((r) => r.dataset.cmid));
  await waitUpdate(page, await updates(page));
  await waitUpdate(page, await updates(page));
  assert.equal(await page.textContent('#hd-page'), 'Page 2 of 2');
  assert.deepEqual(await page.$$eval('#hd-clients tbody tr', (t) => t.map((r) => r.dataset.cmid)), rows2);
  await page.getByRole('button', { name: 'Previous' }).click();
  noProblems(main);
});

test('phone-sized viewport: no horizontal scrolling of the page; tables scroll in place', async () => {
  const phone = await H.newPage(browser, host.base, { viewport: { width: 375, height: 740 }, deviceScaleFactor: 2, isMobile: true });
  try {
    const { page } = phone;
    await page.goto(`${host.base}#host`);
    await page.waitForFunction(() => document.body.dataset.ready === '1');
    await page.locator('#hd-login').waitFor({ state: 'visible' });
    await signIn(page, host.token);
    await waitUpdate(page, 0);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling (overflow ${overflow}px)`);
    const wrap = await page.$eval('#hd-clients', (t) => {
      const s = t.parentElement;
      return { scrolls: s.scrollWidth > s.clientWidth, overflowX: getComputedStyle(s).overflowX };
    });
    assert.deepEqual(wrap, { scrolls: true, overflowX: 'auto' });
    assert.ok(await page.$eval('#hd-chart svg', (s) => s.getBoundingClientRect().width <= 375));
    await shot(page, 'phone', { fullPage: true });
    noProblems(phone);
  } finally {
    await phone.context.close();
  }
});

test('the host’s token changes: the next refresh clears every host datum and says why; sign-out forgets the token', async () => {
  const { page } = main;
  await page.evaluate(() => window.scrollTo(0, 0));
  assert.equal(await page.evaluate(() => document.getElementById('hd-data').childElementCount > 0), true);
  const old = host.token;
  await host.stop();
  host = await H.startNative({ bin, token: H.secret(), dataDir, httpPort, args: scopeArgs, name: 'native-2' });
  await page.locator('#hd-auth-error').waitFor({ state: 'visible', timeout: 20_000 });
  assert.match(await page.textContent('#hd-auth-error'), /refused the admin token/);
  let d = await hostData(page);
  assert.equal(d.children, 0);
  assert.equal(d.stored, null, 'the refused token is forgotten');
  assert.ok(!d.text.includes('PC-ALPHA') && !d.text.includes('SRV-'), 'no client left on the page');
  assert.ok(!d.text.includes('Total requests received'));
  await shot(page, 'token-revoked');

  // A reload with the new token: the data is back (the registry persisted).
  await signIn(page, old);
  await page.waitForFunction(() => document.getElementById('hd-state').textContent !== 'Checking the token…');
  await page.locator('#hd-auth-error').waitFor({ state: 'visible' });
  await signIn(page, host.token);
  await waitUpdate(page, 0);
  assert.equal(await page.textContent('#hd-dlv [data-counter=total]'), String(requestsTotal));
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === '1');
  await waitUpdate(page, 0); // the session's token, no new prompt
  assert.equal(await page.isVisible('#hd-login'), false);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.locator('#hd-login').waitFor({ state: 'visible' });
  d = await hostData(page);
  assert.equal(d.children, 0);
  assert.equal(d.stored, null);
  assert.match(await page.textContent('#hd-state'), /Signed out/);
  noProblems(main);
});

test('a native host without an admin token answers loopback: the data shows without one, no sign-out', async () => {
  const dir = H.tempDir('kmsedge-dashboard-open-');
  const open = await H.startNative({ bin, token: null, dataDir: dir, name: 'open' });
  const m = await H.newPage(browser, open.base);
  try {
    assert.equal((await H.activate(bin, open.kms, { product: 'Windows 10/11 Pro', workstation: 'PC-OPEN' })).activated, 1);
    await m.page.goto(`${open.base}#host`);
    await m.page.waitForFunction(() => document.body.dataset.ready === '1');
    await waitUpdate(m.page, 0);
    assert.equal(await m.page.isVisible('#hd-login'), false);
    assert.match(await m.page.textContent('#hd-state'), /without an admin token/);
    assert.equal(await m.page.isVisible('#hd-signout'), false);
    assert.deepEqual(await rowNames(m.page), ['PC-OPEN']);
    assert.ok(m.apiCalls.every((c) => c.authorization === null), 'no token to send');
    noProblems(m);
  } finally {
    await m.context.close();
    await open.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('CSV fields: RFC 4180 quoting; text a spreadsheet would run as a formula is neutralised', async () => {
  const m = await H.newPage(browser, host.base);
  try {
    await m.page.goto(host.base);
    await m.page.waitForFunction(() => document.body.dataset.ready === '1');
    const inputs = ['PC-1', 12, null, 'a,b', 'say "hi"', 'two\nlines', 'cr\rlf', ' padded', '=HYPERLINK("x")', '+1', '@SUM(A1)', '-2'];
    // The page's own module (already loaded by app.js).
    const out = await m.page.evaluate(async (xs) => {
      const { csvField } = await import('/host.js');
      return xs.map(csvField);
    }, inputs);
    assert.deepEqual(out, ['PC-1', '12', '', '"a,b"', '"say ""hi"""', '"two\nlines"', '"cr\rlf"', '" padded"',
      `"'=HYPERLINK(""x"")"`, "'+1", "'@SUM(A1)", "'-2"]);
    const fields = ['a,b', 'say "hi"', 'two\nlines', 'x'];
    assert.deepEqual(H.parseCsv(`${out.slice(3, 6).join(',')},x\r\n`), [fields]);
    noProblems(m);
  } finally {
    await m.context.close();
  }
});
