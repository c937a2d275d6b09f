// The dashboard's Settings section (www/settings.js) against a real
// `kmsedge serve` started here: the wizard's fields filled from the host,
// inline validation that sends nothing, a confirmation for changes clients
// notice (cancel changes nothing; confirm applies), a host key installed
// and uninstalled by its last five characters, and a host refusal shown in
// one line. Each change is checked on the host through its API, and
// survives a restart of the binary.
//
// Run: node --test tests/browser/settings.test.mjs (www/pkg built, see
// scripts/test-web.sh); $KMSEDGE_BIN or the debug build.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as H from './dashboard-hosts.mjs';

// The made Windows Server 2025 host key scripts/test-edge.sh installs
// (group 4919, serial 1 234 567, valid checksum): a CSVLK no one owns.
const KEY = 'BGDKN-3YD93-B8BJK-3XCQT-9K3KX';

let bin;
let host;
let dataDir;
let httpPort;
let browser;
let tab;

before(async () => {
  assert.ok(fs.existsSync(path.join(H.root, 'www/pkg/kmsedge_bg.wasm')), 'www/pkg is built (scripts/test-web.sh builds it)');
  bin = H.kmsedgeBin();
  dataDir = H.tempDir('kmsedge-settings-');
  httpPort = await H.freePort();
  host = await H.startNative({ bin, token: H.secret(), dataDir, httpPort });
  browser = await H.launch();
  tab = await H.newPage(browser, host.base);
});

after(async () => {
  await browser?.close().catch(() => {});
  await H.stopAll();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

const settings = () => H.apiGet(host.base, host.token, 'api/settings');

async function open(page) {
  await page.goto(`${host.base}#host`);
  await page.waitForFunction(() => document.body.dataset.ready === '1');
  // Signed in already when the tab kept the token (sessionStorage).
  await page.locator('#hd-login:visible, #hd-settings:visible').first().waitFor();
  if (await page.isVisible('#hd-login')) {
    await page.getByLabel('Admin token').fill(host.token);
    await page.getByRole('button', { name: 'Show the host' }).click();
  }
  await page.locator('#hd-settings').waitFor({ state: 'visible' });
  await page.waitForFunction(() => document.getElementById('st-ai').value !== '');
}

test('the fields show the host settings; bad values are refused inline and nothing is sent', async () => {
  const { page } = tab;
  await open(page);
  const s = await settings();
  assert.equal(await page.inputValue('#st-port'), String(s.port));
  assert.equal(await page.inputValue('#st-ai'), '120');
  assert.equal(await page.inputValue('#st-ri'), '10080');
  assert.equal(await page.inputValue('#st-priority'), 'normal');
  assert.equal(await page.isChecked('#st-dns'), false);
  assert.match(await page.textContent('#st-keys'), /default keys/);

  await page.fill('#st-ai', '14');
  assert.equal(await page.getAttribute('#st-ai', 'aria-invalid'), 'true');
  assert.match(await page.textContent('#st-ai-error'), /15 to 43,200/);
  await page.fill('#st-port', '70000');
  assert.match(await page.textContent('#st-port-error'), /1 to 65535/);
  const puts = [];
  page.on('request', (r) => { if (r.method() === 'PUT') puts.push(r.url()); });
  await page.click('#st-apply');
  assert.equal(await page.isVisible('#st-confirm'), false);
  assert.deepEqual(puts, [], 'nothing sent while a field is invalid');
  assert.equal((await settings()).activation_interval, 120);
  await page.fill('#st-port', String(s.port));
});

test('a change clients notice asks first: cancel keeps everything, confirm applies it', async () => {
  const { page } = tab;
  await page.fill('#st-ai', '60');
  assert.equal(await page.getAttribute('#st-ai', 'aria-invalid'), 'false');
  await page.selectOption('#st-priority', 'low');
  await page.click('#st-apply');
  await page.locator('#st-confirm').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#st-confirm'), /retry every 60 minutes/);
  await page.click('#st-confirm-no');
  assert.equal((await settings()).activation_interval, 120, 'cancelled: unchanged');

  await page.click('#st-apply');
  await page.click('#st-confirm-yes');
  await page.waitForFunction(() => document.getElementById('st-status').textContent === 'Settings applied.');
  const s = await settings();
  assert.equal(s.activation_interval, 60);
  assert.equal(s.priority, 'low');
  assert.deepEqual([...s.changed].sort(), ['activation_interval', 'priority']);
  assert.match(await page.textContent('#st-changed'), /Activation interval/);
  // Each change is in the event history, shown as a setting change.
  await page.selectOption('#hd-ev-kind', 'setting');
  await page.waitForFunction(() => document.querySelectorAll('#hd-events tbody tr[data-kind="setting"]').length === 2);
  assert.match(await page.textContent('#hd-events tbody'), /1000 setting changed/);
  await page.screenshot({ path: path.join(H.artifacts, 'dashboard-settings.png'), fullPage: false });
});

test('a host key installs after confirmation, shows by its last five, and uninstalls', async () => {
  const { page } = tab;
  await page.fill('#st-key', 'not-a-key');
  await page.click('#st-apply');
  assert.match(await page.textContent('#st-key-error'), /Five groups of five/);
  await page.fill('#st-key', KEY);
  await page.click('#st-apply');
  assert.match(await page.textContent('#st-confirm'), /…9K3KX is installed/);
  await page.click('#st-confirm-yes');
  await page.locator('#st-keys li[data-partial="9K3KX"]').waitFor();
  const body = await page.evaluate(() => document.body.innerText);
  assert.ok(!body.includes(KEY.slice(0, 23)), 'the key is never shown whole');
  assert.equal(await page.inputValue('#st-key'), '');
  assert.deepEqual((await settings()).host_keys.map((k) => k.partial), ['9K3KX']);

  await page.getByRole('button', { name: 'Uninstall …9K3KX' }).click();
  assert.match(await page.textContent('#st-confirm'), /…9K3KX is uninstalled/);
  await page.click('#st-confirm-yes');
  await page.waitForFunction(() => /default keys/.test(document.getElementById('st-keys').textContent));
  assert.deepEqual((await settings()).host_keys, []);
});

test('the host refusing a change shows its line and keeps the rest', async () => {
  const { page } = tab;
  // Publishing needs the DNS configuration this host was started without.
  await page.check('#st-dns');
  await page.click('#st-apply');
  await page.locator('#st-error').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#st-error'), /^Publish the SRV record in DNS: cannot publish: the host was started without DNS publishing configured/);
  assert.equal(await page.isChecked('#st-dns'), false, 'the form shows the host again');
});

test('the changes survive a restart of the host', async () => {
  await host.stop();
  host = await H.startNative({ bin, token: host.token, dataDir, httpPort });
  const { page } = tab;
  await open(page);
  assert.equal(await page.inputValue('#st-ai'), '60');
  assert.equal(await page.inputValue('#st-priority'), 'low');
  assert.deepEqual(tab.problems, [], 'no external request, no page error');
});
