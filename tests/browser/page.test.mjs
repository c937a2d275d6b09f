// The page in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core): GVLK lookup and copy, deep links, every recorded
// conversation pasted as hex, a pcap written here, malformed input, the DNS
// helper, keyboard use, and screenshots under test-artifacts/.
//
// Run: node --test tests/browser/*.test.mjs   (after www/pkg/ is built; see
// scripts/test-web.sh). CHROMIUM overrides the browser path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { launch } from './browser.mjs';
import { serve } from './server.mjs';
import { pcapOf } from './capture.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '../..');
const artifacts = path.join(root, 'test-artifacts');
const vectorsDir = path.join(root, 'tests/fixtures/vectors');
fs.mkdirSync(artifacts, { recursive: true });

const vectors = fs.readdirSync(vectorsDir).filter((f) => f.endsWith('.json')).sort()
  .map((f) => JSON.parse(fs.readFileSync(path.join(vectorsDir, f), 'utf8')));

// The page's two wasm modules: lookup (loaded with the page) and decoder
// (loaded when the Decoder view is first used).
const LOOKUP_WASM = 'www/pkg/kmsedge_bg.wasm';
const DECODER_WASM = 'www/pkg/decoder/kmsedge_decoder_bg.wasm';

let server;
let base;
/** Every URL the page requested, in order. */
const requested = [];
let browser;
let context;
let page;
let userDataDir;

before(async () => {
  for (const f of [LOOKUP_WASM, DECODER_WASM]) {
    assert.ok(fs.existsSync(path.join(root, f)), `${f} is built (scripts/test-web.sh builds it)`);
  }
  ({ server, url: base } = await serve(path.join(root, 'www')));
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmsedge-chromium-'));
  browser = await launch();
  context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base.replace(/\/$/, '') });
  page = await context.newPage();
  // Nothing may be fetched from anywhere but the local server.
  page.on('request', (r) => {
    requested.push(r.url());
    assert.ok(r.url().startsWith(base) || r.url().startsWith('data:'), `external request: ${r.url()}`);
  });
  page.on('pageerror', (e) => { throw e; });
});

after(async () => {
  await browser?.close();
  server?.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

async function open(hash = '') {
  // A fresh document each time (a hash-only change would not reload).
  await page.goto('about:blank');
  await page.goto(`${base}${hash}`);
  await page.waitForFunction(() => document.body.dataset.ready === '1');
}

test('loads offline-capable and becomes interactive quickly; the decoder module only when needed', async () => {
  await page.goto('about:blank');
  requested.length = 0;
  const t0 = Date.now();
  await page.goto(`${base}#lookup`);
  await page.waitForFunction(() => document.body.dataset.ready === '1');
  const wall = Date.now() - t0;
  const readyAt = await page.evaluate(() => window.kmsedgeReadyAt);
  // The lookup view needs only the lookup module.
  assert.ok(requested.some((u) => u.endsWith('/pkg/kmsedge_bg.wasm')), requested.join(' '));
  assert.ok(!requested.some((u) => u.includes('/pkg/decoder/')), `decoder fetched for the lookup: ${requested.join(' ')}`);
  // Opening the Decoder view loads the decoder module.
  const t1 = await page.evaluate(() => performance.now());
  await page.evaluate(() => { location.hash = '#decoder'; });
  await page.waitForFunction(() => window.kmsedgeDecoderReadyAt !== undefined);
  const decoderReady = await page.evaluate((t) => window.kmsedgeDecoderReadyAt - t, t1);
  assert.ok(requested.some((u) => u.endsWith('/pkg/decoder/kmsedge_decoder_bg.wasm')), requested.join(' '));
  const size = (f) => fs.statSync(path.join(root, f)).size;
  const metrics = {
    time_to_interactive_ms: Math.round(readyAt),
    navigation_to_ready_wall_ms: wall,
    decoder_view_to_decoder_ready_ms: Math.round(decoderReady),
    lookup_wasm_bytes: size(LOOKUP_WASM),
    decoder_wasm_bytes: size(DECODER_WASM),
  };
  fs.writeFileSync(path.join(artifacts, 'page-metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
  console.log(`# page metrics: ${JSON.stringify(metrics)}`);
  assert.ok(readyAt < 5000, `interactive after ${readyAt} ms`);
  assert.ok(decoderReady < 5000, `decoder ready ${decoderReady} ms after opening its view`);
  assert.match(await page.textContent('#version'), /^\d+\.\d+\.\d+/);
  // The statement about GVLKs is on the lookup view.
  assert.match(await page.textContent('#gvlk-note'), /Only GVLKs activate against a KMS host/);
});

test('search is instant, word-order and case tolerant, grouped by family; copy a GVLK', async () => {
  await open('#lookup');
  await page.getByLabel('Product', { exact: true }).fill('PRO 11 windows');
  const card = page.locator('#results li.product', { hasText: 'Windows 10/11 Pro' }).first();
  await card.waitFor();
  assert.equal(await card.locator('[data-field=gvlk]').textContent(), 'W269N-WFGWX-YVC9B-4J6C9-T83GX');
  const families = await page.locator('#results h2.family').allTextContents();
  assert.ok(families.includes('Windows 10/11'), families.join(', '));
  await page.getByLabel('KMS host', { exact: true }).fill('kms1.corp.example');
  await page.locator('#kms-port').fill('1700');
  await page.waitForFunction(() => document.querySelector('#results [data-field=commands]')?.textContent.includes('kms1.corp.example:1700'));
  const cmds = await card.locator('[data-field=commands]').textContent();
  assert.equal(cmds, 'slmgr /ipk W269N-WFGWX-YVC9B-4J6C9-T83GX\nslmgr /skms kms1.corp.example:1700\nslmgr /ato\nslmgr /dlv');
  await card.getByRole('button', { name: 'Copy GVLK of Windows 10/11 Pro' }).click();
  await page.waitForFunction(() => document.body.dataset.copied);
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'W269N-WFGWX-YVC9B-4J6C9-T83GX');
  assert.equal(await page.evaluate(() => document.body.dataset.copied), 'W269N-WFGWX-YVC9B-4J6C9-T83GX');
  // Office: ospp.vbs with host and port.
  await page.getByLabel('Product', { exact: true }).fill('visio 2019');
  const office = page.locator('#results li.product').first();
  await office.waitFor();
  const oc = await office.locator('[data-field=commands]').textContent();
  assert.match(oc, /^cscript ospp\.vbs \/inpkey:[A-Z0-9-]{29}\ncscript ospp\.vbs \/sethst:kms1\.corp\.example\ncscript ospp\.vbs \/setprt:1700\ncscript ospp\.vbs \/act$/);
  // Other queries from the issue.
  for (const q of ['ltsc 2021', 'server 2025 datacenter']) {
    await page.getByLabel('Product', { exact: true }).fill(q);
    assert.match(await page.textContent('#result-count'), /^[1-9]\d* products? with a GVLK$/, q);
  }
  await page.getByLabel('Product', { exact: true }).fill('zzz nothing');
  assert.match(await page.textContent('#result-count'), /No product matches/);
  // A bad host is named, not silently used.
  await page.getByLabel('KMS host', { exact: true }).fill('bad host!');
  await page.locator('#host-error').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#host-error'), /not a valid DNS name/);
  await page.getByLabel('KMS host', { exact: true }).fill('');
  await page.locator('#kms-port').fill('1688');
  await page.getByLabel('Product', { exact: true }).fill('windows');
  await page.screenshot({ path: path.join(artifacts, 'lookup.png'), fullPage: false });
});

test('a #product/<id> deep link opens that product', async () => {
  await open('#product/73111121-5638-40f6-bc11-f1d7b0d64300');
  const sel = page.locator('#selected li.product.selected');
  await sel.waitFor();
  assert.equal(await sel.locator('h3').textContent(), 'Windows 10/11 Enterprise');
  assert.equal(await sel.locator('[data-field=gvlk]').textContent(), 'NPPR9-FWDCX-D2C8J-H872K-2YT43');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Windows 10/11 Enterprise');
  assert.equal(await page.locator('#view-lookup').isVisible(), true);
  await open('#product/not-a-guid');
  assert.match(await page.textContent('#selected'), /not a product id/);
});

test('every recorded conversation pasted as hex shows its fields', async () => {
  await open('#decoder');
  for (const v of vectors) {
    const hex = v.pdus.map((p) => p.hex).join('\n');
    await page.getByLabel('Hex').fill(hex);
    await page.getByRole('button', { name: 'Decode' }).click();
    const pdus = page.locator('#conversation article.pdu');
    await page.waitForFunction((n) => document.querySelectorAll('#conversation article.pdu').length === n, v.pdus.length);
    assert.equal(await page.locator('#conversation article.pdu.err').count(), 0, v.name);
    for (let i = 0; i < v.pdus.length; i += 1) {
      assert.equal(await pdus.nth(i).getAttribute('data-type'), v.pdus[i].ptype_name, `${v.name} #${i}`);
    }
    const reqs = page.locator('#conversation article[data-type=request]');
    const resps = page.locator('#conversation article[data-type=response]');
    const decoded = v.client_decoded?.requests ?? [];
    for (let i = 0; i < await reqs.count(); i += 1) {
      const r = reqs.nth(i);
      assert.equal(await r.locator('[data-field=cmid]').textContent(), '3b5a8e4f-1d2c-4e6f-9a7b-0c1d2e3f4a5b', v.name);
      assert.equal(await r.locator('[data-field=request_time]').textContent(), '2024-06-01 00:00:00 UTC');
      assert.match(await r.locator('[data-field=integrity]').textContent(), /valid/);
      assert.equal(await r.locator('[data-field=version]').textContent(), v.kms_protocol);
      assert.match(await r.locator('[data-field=workstation]').textContent(), /^DESKTOP-VECTOR1/);
      if (decoded[i]) {
        const d = decoded[i];
        assert.equal(await r.locator('[data-field=workstation]').textContent(), d['Workstation name']);
        assert.ok((await r.locator('[data-field=sku]').textContent()).includes(d['SKU ID (aka Activation ID)'].split(' ')[0]), v.name);
        assert.ok((await r.locator('[data-field=application]').textContent()).includes(d['Application ID'].split(' ')[0]));
        assert.equal(await r.locator('[data-field=n_policy]').textContent(), d['N count policy (minimum clients)']);
        assert.equal(await r.locator('[data-field=license_status]').textContent(), d['Licensing status']);
        assert.equal(await r.locator('[data-field=vm]').textContent(), d['Client is a virtual machine'].toLowerCase());
      }
    }
    const e = v.expect;
    for (let i = 0; i < await resps.count(); i += 1) {
      const r = resps.nth(i);
      if (e.hresult !== '0x00000000') {
        assert.equal(await r.locator('[data-field=refusal]').textContent(), `${e.hresult} ERROR_INVALID_DATA`, v.name);
        continue;
      }
      assert.equal(await r.locator('[data-field=verdict]').textContent(), 'verifies', v.name);
      assert.equal(await r.locator('[data-field=epid]').textContent(), e.epid);
      assert.equal(await r.locator('[data-field=current_count]').textContent(), String(e.active_clients));
      assert.equal(await r.locator('[data-field=activation_interval]').textContent(), `${e.activation_interval.toLocaleString('en')} minutes`);
      assert.equal(await r.locator('[data-field=renewal_interval]').textContent(), `${e.renewal_interval.toLocaleString('en')} minutes`);
      if (e.hwid) assert.equal(await r.locator('[data-field=hwid]').textContent(), e.hwid);
      assert.equal(await r.locator('[data-field=checks] li.fail').count(), 0);
      assert.ok(await r.locator('[data-field=checks] li.pass').count() >= 4);
    }
    if (v.name === 'v6_win10_enterprise_ndr64') {
      const ack = pdus.nth(1);
      assert.match(await ack.locator('[data-field=results]').textContent(), /rejected.*proposed transfer syntaxes not supported/);
      assert.equal(await ack.locator('[data-field=secondary_address]').textContent(), '11688');
      await page.screenshot({ path: path.join(artifacts, 'decoder.png'), fullPage: false });
    }
  }
});

test('a dropped pcap decodes to the conversation', async () => {
  const v = vectors.find((x) => x.name === 'v6_winserver2022_datacenter_ndr64');
  const pcap = pcapOf(v.pdus.map((p) => ({ c2s: p.direction === 'c2s', bytes: Buffer.from(p.hex, 'hex') })));
  fs.writeFileSync(path.join(artifacts, 'test-capture.pcap'), pcap);
  await open('#decoder');
  await page.locator('#file').setInputFiles({ name: 'kms.pcap', mimeType: 'application/vnd.tcpdump.pcap', buffer: pcap });
  await page.locator('#conversation h2.conv-head').waitFor();
  assert.equal(await page.textContent('#conversation h2.conv-head'), 'Conversation 1: 10.0.0.2:49700 → 10.0.0.1:1688');
  assert.equal(await page.locator('#conversation article.pdu').count(), v.pdus.length);
  assert.match(await page.textContent('#decode-summary'), /^kms\.pcap — pcap: [\d,]+ bytes, 1 conversation, 8 PDUs$/);
  const resp = page.locator('#conversation article[data-type=response]').last();
  assert.equal(await resp.locator('[data-field=verdict]').textContent(), 'verifies');
  assert.match(await page.locator('#conversation article[data-type=request]').first().locator('[data-field=sku]').textContent(), /Windows Server 2022 Datacenter/);
  assert.match(await resp.locator('.meta').first().textContent(), /packet \d+/);
});

test('malformed input names the offset and what was expected', async () => {
  await open('#decoder');
  await page.getByLabel('Hex').fill('05 00 0b 0g');
  await page.getByRole('button', { name: 'Decode' }).click();
  await page.locator('#decode-error').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#decode-error'), /line 1 column 11 \(character offset 10\): unexpected 'g'; expected hex digits/);
  // A conversation cut inside its second PDU: the first decodes, then the error.
  const v = vectors.find((x) => x.name === 'v5_win8_enterprise_ndr32');
  const hex = v.pdus[0].hex + v.pdus[1].hex.slice(0, 40);
  await page.getByLabel('Hex').fill(hex);
  await page.getByRole('button', { name: 'Decode' }).click();
  await page.locator('#conversation article.pdu.err').waitFor();
  const first = v.pdus[0].hex.length / 2;
  assert.equal(await page.textContent('#conversation article.pdu.err [data-field=error]'),
    `at byte ${first + 20}: input ends inside the bind_ack PDU that starts at byte ${first}: expected ${v.pdus[1].frag_len} bytes, found 20`);
  assert.equal(await page.locator('#conversation article[data-type=bind]').count(), 1);
  // A file that is no capture and no hex.
  await page.locator('#file').setInputFiles({ name: 'x.pcap', mimeType: 'application/octet-stream', buffer: Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 0, 0]) });
  await page.waitForFunction(() => /pcap file header/.test(document.querySelector('#decode-error').textContent));
  assert.equal(await page.isVisible('#decode-error'), true);
});

test('DNS helper gives the SRV zone line and PowerShell', async () => {
  await open('#dns');
  await page.getByLabel('Domain').fill('corp.example.com');
  await page.getByLabel('KMS host name').fill('kms1');
  await page.locator('#dns-out').waitFor({ state: 'visible' });
  assert.equal(await page.textContent('#dns-zone'), '_vlmcs._tcp.corp.example.com. IN SRV 0 0 1688 kms1.corp.example.com.');
  assert.equal(await page.textContent('#dns-ps'),
    'Add-DnsServerResourceRecord -ZoneName "corp.example.com" -Srv -Name "_vlmcs._tcp" -DomainName "kms1.corp.example.com" -Priority 0 -Weight 0 -Port 1688');
  await page.getByLabel('KMS host name').fill('192.0.2.7');
  await page.locator('#dns-error').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#dns-error'), /needs the host's DNS name/);
});

test('keyboard: skip link, then the views in order; the host view stays hidden', async () => {
  await open('#lookup');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'GVLK lookup');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Key checker');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Decoder');
  await page.keyboard.press('Enter');
  await page.locator('#view-decoder').waitFor({ state: 'visible' });
  assert.equal(await page.getAttribute('nav a[data-view=decoder]', 'aria-current'), 'page');
  assert.equal(await page.isVisible('#nav-host'), false);
  await open('#host');
  assert.equal(await page.isVisible('#view-lookup'), true, '#host falls back to the lookup without a host');
  // Every form control has a label.
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, textarea')]
    .filter((el) => !el.labels?.length && !el.getAttribute('aria-label')).map((el) => el.id));
  assert.deepEqual(unlabelled, []);
});

test('readable on a phone-sized viewport', async () => {
  const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, deviceScaleFactor: 2, isMobile: true });
  const p = await phone.newPage();
  await p.goto(`${base}#lookup`);
  await p.waitForFunction(() => document.body.dataset.ready === '1');
  await p.getByLabel('Product', { exact: true }).fill('windows 11 pro');
  await p.locator('#results li.product').first().waitFor();
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling (overflow ${overflow}px)`);
  await p.screenshot({ path: path.join(artifacts, 'lookup-phone.png') });
  await p.goto(`${base}#decoder`);
  await p.waitForFunction(() => document.body.dataset.ready === '1');
  const v = vectors.find((x) => x.name === 'v6_win10_enterprise_ndr32');
  await p.getByLabel('Hex').fill(v.pdus.map((x) => x.hex).join(' '));
  await p.getByRole('button', { name: 'Decode' }).click();
  await p.locator('#conversation article[data-type=response]').waitFor();
  const overflow2 = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow2 <= 0, `decoder: no horizontal scrolling (overflow ${overflow2}px)`);
  await p.screenshot({ path: path.join(artifacts, 'decoder-phone.png') });
  await phone.close();
});
