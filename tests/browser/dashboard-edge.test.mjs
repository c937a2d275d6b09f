// The host dashboard against the edge Worker under `wrangler dev` (same API
// shapes as the native host, ADMIN_TOKEN always required): wrong token,
// then the right one — counts, the clients of this run in the table, the
// chart, a CSV export — after `kmsedge activate` through the Worker's
// connect() port (two Windows clients, one Office client, one refused for
// its clock). Screenshot: test-artifacts/dashboard-edge.png.
//
// Where the Worker comes from:
// * scripts/test-edge.sh runs this file while its wrangler is up and
//   exports KMSEDGE_EDGE_HTTP, KMSEDGE_EDGE_TCP, KMSEDGE_EDGE_ADMIN_TOKEN;
//   its registry holds that suite's clients too, so everything here is
//   compared with what the API says and this run's clients carry a tag;
// * KMSEDGE_DASHBOARD_EDGE=1 (scripts/test-dashboard.sh): this file starts
//   `wrangler dev` itself from build/index.js, as test-edge.sh does;
// * otherwise it is skipped (scripts/test-web.sh runs tests/browser/*).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as H from './dashboard-hosts.mjs';

const env = process.env;
const given = env.KMSEDGE_EDGE_HTTP && env.KMSEDGE_EDGE_TCP && env.KMSEDGE_EDGE_ADMIN_TOKEN;
const own = env.KMSEDGE_DASHBOARD_EDGE === '1';
// The page needs its wasm (www/pkg, built by scripts/test-web.sh) among the
// Worker's assets; test-edge.sh copies www/ as it is when it starts.
const assets = given ? env.KMSEDGE_EDGE_ASSETS_DIR : path.join(H.root, 'www');
const skip = !(given || own)
  ? 'needs a Worker: run from scripts/test-edge.sh, or set KMSEDGE_DASHBOARD_EDGE=1 (scripts/test-dashboard.sh)'
  : assets && !fs.existsSync(path.join(assets, 'pkg/kmsedge_bg.wasm'))
    ? `the page's wasm is not among the Worker's assets (${assets}/pkg): run scripts/test-web.sh first`
    : false;

const WIN = '58e2134f-8e11-4d17-9cb2-91069c151148';
const tag = `EDGE${crypto.randomBytes(3).toString('hex').toUpperCase()}`;
let bin;
let edge;
let browser;

before(async () => {
  if (skip) return;
  bin = H.kmsedgeBin();
  if (given) {
    edge = { base: `http://${env.KMSEDGE_EDGE_HTTP}/`, kms: env.KMSEDGE_EDGE_TCP, token: env.KMSEDGE_EDGE_ADMIN_TOKEN, stop: async () => {} };
  } else {
    edge = await H.startEdge({ workDir: path.join(H.root, '.wrangler/test-dashboard'), token: H.secret() });
  }
  for (const [suffix, product] of [['A', 'Windows 10/11 Pro'], ['B', 'Windows 10/11 Enterprise'], ['OFFICE', 'Office Professional Plus 2013']]) {
    const r = await H.activate(bin, edge.kms, { product, workstation: `${tag}-${suffix}` });
    assert.equal(r.activated, 1, `${suffix}: ${r.error}`);
  }
  // Six hours off: beyond the Worker's KMS_MAX_TIME_SKEW of 4 h.
  const skewed = await H.activate(bin, edge.kms, { product: 'Windows 10/11 Pro', workstation: `${tag}-SKEW`, time: 'now-6h' });
  assert.equal(skewed.activated, 0);
  assert.equal(skewed.requests[0].hresult, '0xC004F06C', 'refused for its clock');
  browser = await H.launch();
});

after(async () => {
  await browser?.close().catch(() => {});
  await H.stopAll();
});

test('edge Worker: a wrong token shows the error and no data; the right one shows counts, clients, chart and CSV', { skip, timeout: 180_000 }, async () => {
  const m = await H.newPage(browser, edge.base);
  const { page } = m;
  try {
    await page.goto(`${edge.base}#host`);
    await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 30_000 });
    await page.locator('#nav-host').waitFor({ state: 'visible' });
    await page.locator('#hd-login').waitFor({ state: 'visible' });
    assert.equal(await page.isVisible('#view-host'), true, '#host opens the host view');

    // Wrong token.
    await page.getByLabel('Admin token').fill('wrong-token-0000000000');
    await page.getByRole('button', { name: 'Show the host' }).click();
    await page.locator('#hd-auth-error').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#hd-auth-error'), /refused the admin token/);
    assert.equal(await page.evaluate(() => document.getElementById('hd-data').childElementCount), 0);
    assert.ok(!(await page.evaluate(() => document.body.innerText)).includes(tag));
    assert.equal(await page.evaluate(() => sessionStorage.getItem('kmsedge.adminToken')), null);
    await page.screenshot({ path: path.join(H.artifacts, 'dashboard-edge-wrong-token.png') });

    // Right token.
    await page.getByLabel('Admin token').fill(edge.token);
    await page.getByRole('button', { name: 'Show the host' }).click();
    await page.waitForFunction(() => Number(document.getElementById('hd-data').dataset.updates ?? 0) >= 1, null, { timeout: 30_000 });
    const s = await H.apiGet(edge.base, edge.token, 'api/status');
    assert.equal(s.runtime, 'edge');
    assert.match(await page.textContent('#hd-data [data-field=runtime]'), /edge/);
    assert.equal(await page.textContent('#hd-data [data-field=hwid]'), s.identity.hwid);
    assert.equal(await page.isVisible('#hd-data [data-field=dns_state]'), false, 'no DNS card at the edge');
    assert.ok(s.counters.failed >= 1);
    // Counters are numbers in the page's language (English here: 2,550).
    const num = (n) => new Intl.NumberFormat('en-US').format(n);
    await page.waitForFunction((n) => document.querySelector('#hd-dlv [data-counter=failed]')?.textContent === n, num(s.counters.failed));
    assert.equal(await page.textContent('#hd-dlv [data-counter=total]'), num(s.counters.total));
    const win = s.counts.find((c) => c.kms_id === WIN);
    assert.ok(win && win.genuine >= 2, 'the Windows clients are counted');
    const li = page.locator(`#hd-counts li[data-kms-id="${WIN}"]`);
    assert.equal(await li.getAttribute('data-genuine'), String(win.genuine));
    assert.equal(await li.getAttribute('data-threshold'), '25');
    assert.equal(await li.getAttribute('data-reported'), String(win.reported));
    // The probe goes without a token; every later call carries the one typed.
    assert.equal(m.apiCalls[0].authorization, null);
    for (const c of m.apiCalls.slice(1)) {
      assert.ok([`Bearer ${edge.token}`, 'Bearer wrong-token-0000000000'].includes(c.authorization), c.url);
    }

    // This run's clients, through the filter.
    const mine = await H.allClients(edge.base, edge.token, { q: tag });
    const names = mine.map((r) => r.workstation).sort();
    for (const w of ['A', 'B', 'OFFICE']) assert.ok(names.includes(`${tag}-${w}`), names.join());
    await page.getByLabel('Filter clients').fill(tag);
    await page.waitForFunction((n) => document.getElementById('hd-data').dataset.clientsTotal === String(n)
      && document.querySelectorAll('#hd-clients tbody tr:not(.hd-empty)').length === n
      && document.getElementById('hd-range').textContent.endsWith('matching the filter'), mine.length);
    const shown = await page.$$eval('#hd-clients tbody th', (t) => t.map((x) => x.textContent).sort());
    assert.deepEqual(shown, names);
    assert.deepEqual(await page.$$eval('#hd-clients tbody td[data-col=remote]', (t) => [...new Set(t.map((x) => x.textContent))]), ['tcp']);

    // The chart.
    const a = await H.apiGet(edge.base, edge.token, 'api/activity');
    const chart = await page.evaluate(() => {
      const g = [...document.querySelectorAll('#hd-chart .hd-bucket')];
      return { buckets: g.length, requests: g.reduce((t, x) => t + Number(x.dataset.ok) + Number(x.dataset.failed), 0),
        bars: document.querySelectorAll('#hd-chart .hd-bar-ok').length };
    });
    assert.equal(chart.buckets, 48);
    assert.ok(chart.bars >= 1, 'bars drawn');
    assert.equal(chart.requests, a.hourly.reduce((t, p) => t + p.ok + p.failed, 0));

    // CSV of the filter.
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    assert.match(dl.suggestedFilename(), /^kmsedge-clients-\d{8}-\d{6}-filtered\.csv$/);
    const file = path.join(H.artifacts, 'dashboard-edge-clients.csv');
    await dl.saveAs(file);
    const rows = H.parseCsv(fs.readFileSync(file, 'utf8'));
    assert.equal(rows[0][0], 'workstation');
    assert.deepEqual(rows.slice(1).map((r) => r[0]).sort(), names);

    await page.getByLabel('Filter clients').fill('');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(H.artifacts, 'dashboard-edge.png'), fullPage: true });
    assert.deepEqual(m.problems, []);
  } finally {
    await m.context.close();
  }
});

// The Settings section against the Worker: the same view as on the native
// host (tests/browser/settings.test.mjs), its fields from the Durable
// Object's settings; a change clients notice asks first, then is stored by
// the Worker; put back the same way, since later suites compare answers.
test('edge Worker: the Settings section shows its settings and changes the renewal interval after confirmation', { skip, timeout: 180_000 }, async () => {
  const m = await H.newPage(browser, edge.base);
  const { page } = m;
  const settings = () => H.apiGet(edge.base, edge.token, 'api/settings');
  const apply = async (value) => {
    await page.fill('#st-ri', String(value));
    await page.click('#st-apply');
    await page.locator('#st-confirm').waitFor({ state: 'visible' });
    await page.click('#st-confirm-yes');
    await page.waitForFunction(() => document.getElementById('st-status').textContent === 'Settings applied.', null, { timeout: 30_000 });
  };
  try {
    await page.goto(`${edge.base}#host`);
    await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 30_000 });
    await page.locator('#hd-login:visible, #hd-settings:visible').first().waitFor();
    if (await page.isVisible('#hd-login')) {
      await page.getByLabel('Admin token').fill(edge.token);
      await page.getByRole('button', { name: 'Show the host' }).click();
    }
    await page.locator('#hd-settings').waitFor({ state: 'visible', timeout: 30_000 });
    await page.waitForFunction(() => document.getElementById('st-ri').value !== '', null, { timeout: 30_000 });
    const before = await settings();
    assert.equal(await page.inputValue('#st-ai'), String(before.activation_interval));
    assert.equal(await page.inputValue('#st-ri'), String(before.renewal_interval));

    await page.fill('#st-ri', '43201');
    assert.equal(await page.getAttribute('#st-ri', 'aria-invalid'), 'true', 'refused inline');
    const changed = before.renewal_interval === 20000 ? 20001 : 20000;
    await apply(changed);
    assert.equal((await settings()).renewal_interval, changed, 'stored by the Worker');
    await apply(before.renewal_interval);
    assert.equal((await settings()).renewal_interval, before.renewal_interval, 'put back');
    await page.screenshot({ path: path.join(H.artifacts, 'dashboard-edge-settings.png'), fullPage: false });
    assert.deepEqual(m.problems, []);
  } finally {
    await m.context.close();
  }
});
