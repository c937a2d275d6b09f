// Every decoder error the page can show is in Polish on the Polish page
// (issue 14 item 2): malformed inputs, one per error kind the wasm decoder
// reports (src/inspect/error.rs, hex.rs, src/wire/ndr.rs, src/kms/seal.rs,
// src/capture/), are decoded in headless Chromium and no English phrase of
// the catalogue, nor the Rust wording itself, may show; the byte offsets
// must. Kinds no input here brings out (the KMS message's version, MAC,
// padding and ePID: a changed byte there gave no error in the page) go
// through the page's own translateDecoderError with the exact Display text
// of each Rust variant.
//
// Run: node --test tests/browser/errors-i18n.test.mjs (after www/pkg/ is
// built; see scripts/test-web.sh). CHROMIUM overrides the browser path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { launch } from './browser.mjs';
import { serve } from './server.mjs';
import { foreignPhrases } from './i18n-check.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '../..');
const vector = JSON.parse(fs.readFileSync(path.join(root, 'tests/fixtures/vectors/v6_win10_enterprise_ndr32.json'), 'utf8'));
const [bind, bindAck, request, response] = vector.pdus.map((p) => p.hex);

/** `hex` with the byte at `at` replaced by `b` (two hex digits). */
const poke = (hex, at, b) => hex.slice(0, at * 2) + b + hex.slice(at * 2 + 2);

// Pasted hex, one input per error kind, and the English words of its Rust
// Display text that must not show in Polish.
const HEX_INPUTS = [
  ['hex: bad character', '05 00 0b 0g', 'expected hex digits'],
  ['hex: odd group', '05 00 0b 0', 'hex digits; expected an even'],
  ['hex: prefix without digits', '0x', 'expected hex digits after the prefix'],
  ['hex: no digits', ', ,', 'no hex digits found'],
  ['unknown start', 'ff ff ff ff', 'expected a DCE/RPC header'],
  ['truncated header', '05 00 0b 03 10 00', 'input ends inside the DCE/RPC PDU header'],
  ['RPC version', poke(bind, 0, '04'), 'connection-oriented'],
  ['data representation', poke(bind, 4, '00'), 'data representation'],
  ['frag_length', poke(poke(bind, 8, '0a'), 9, '00'), 'expected at least 16'],
  ['auth_length', poke(bind, 10, '01'), 'KMS uses no RPC authentication'],
  ['fragmented', bind + bindAck + poke(request, 3, '01'), 'KMS calls are never fragmented'],
  ['truncated PDU', bind + bindAck.slice(0, 40), 'input ends inside the bind_ack PDU'],
  ['NDR stub length', bind + bindAck + poke(request, 24, '00'), 'differs from array conformance'],
  ['NDR return value', bind + bindAck + request + poke(response, response.length / 2 - 1, '01'), 'return value'],
];

// The Display text of every variant (src/wire/ndr.rs StubError, src/kms/seal.rs
// RequestError and OpenError, src/wire/mod.rs Malformed, src/inspect/hex.rs
// TooLong, src/capture/mod.rs), as the wasm decoder writes them.
const DISPLAY_TEXTS = [
  'hex input, line 3 column 7 (character offset 40): more than 65536 bytes',
  'at byte 4: data representation 0x00; expected 0x10 (little-endian integers, ASCII)',
  'at byte 16: malformed: context element offers no transfer syntax',
  'at byte 16: malformed: bind body',
  'at byte 16: malformed: alter_context_resp body',
  'at byte 16: malformed: request header',
  'at byte 16: malformed: fault body',
  'at byte 40: input ends inside the NDR stub that starts at byte 40: expected 12 bytes, found 4',
  'at byte 48: input ends inside the KMS request that starts at byte 44: expected 236 bytes, found 4',
  'at byte 48: input ends inside the KMS response that starts at byte 44: expected 100 bytes, found 4',
  'at byte 20: input ends inside the PDU that starts at byte 0: expected 100 bytes, found 20',
  'at byte 40: NDR stub: stub truncated: need 12 bytes, have 4',
  'at byte 40: NDR stub: size 260 differs from array conformance 0',
  'at byte 40: NDR stub: response pointer and size disagree',
  'at byte 40: NDR stub: non-zero NDR padding',
  'at byte 40: NDR stub: response carries a message and return value 0xC004F042',
  'at byte 44: KMS request truncated: need 4 bytes, have 2',
  'at byte 44: KMS response truncated: need 4 bytes, have 2',
  'at byte 44: unsupported KMS protocol version 7.0',
  'at byte 280: V4 request MAC does not match',
  'at byte 64: decrypted request has invalid padding (wrong key or corrupted)',
  'at byte 64: response does not decrypt to valid PKCS#7 padding',
  'at byte 48: invalid PIDSize 9999',
  'at byte 64: ePID is not NUL-terminated',
  'at byte 64: ePID contains an embedded NUL',
  'at byte 64: decrypted response is 200 bytes, PIDSize implies 260',
  'capture file, byte 0: not a capture: found 00 01 02 03; expected the magic number of pcap (d4 c3 b2 a1 or a1 b2 c3 d4) or pcapng (0a 0d 0d 0a)',
  'capture file, byte 0: not a capture: found no bytes; expected the magic number of pcap (d4 c3 b2 a1 or a1 b2 c3 d4) or pcapng (0a 0d 0d 0a)',
  'capture file, byte 0: pcap file header truncated or invalid; expected 24 bytes',
  'capture file, byte 0: pcapng section header block invalid or truncated',
  "no KMS conversation in the capture's 3 packets: expected TCP traffic to or from port 1688 (or starting with a DCE/RPC bind to the KMS interface)",
  "no KMS conversation in the capture's 3 packets: expected TCP traffic to or from port 1688 (or starting with a DCE/RPC bind to the KMS interface)"
    + '; packets of link type 147 are not decoded (first: packet 1)'
    + '; the file ends inside the packet record at byte 200 (truncated capture); the packets before it were read',
];

// The capture reader's notes (src/capture/mod.rs, flows.rs), shown beside the errors.
const NOTE_TEXTS = [
  'packets of link type 147 are not decoded (first: packet 1)',
  'packet 4 (byte 300) names interface 2 that was never described',
  'packet 1 (byte 28) comes before any interface description',
  'the file ends inside the packet record at byte 200 (truncated capture); the packets before it were read',
  'the file ends inside (or has a malformed) pcapng block at byte 200; the packets before it were read',
  '10.0.0.2:49700 → 10.0.0.1:1688: 52 bytes missing at stream offset 116 before packet 5 (not in the capture); the stream is decoded up to there',
];

// PDU type names (request, bind_ack …) and header field names (frag_length …)
// are protocol identifiers, the same in both languages ("nagłówka PDU request").
const IDENTIFIERS = ['request', 'response', 'fault', 'bind', 'bind_ack', 'bind_nak', 'alter_context', 'alter_context_resp',
  'frag_length', 'auth_length', 'pfc_flags', 'PIDSize', 'ePID'];
const english = foreignPhrases('en', 'pl').filter((p) => !IDENTIFIERS.includes(p));
let server;
let base;
let browser;

before(async () => {
  assert.ok(fs.existsSync(path.join(root, 'www/pkg/decoder/kmsedge_decoder_bg.wasm')), 'www/pkg is built (scripts/test-web.sh builds it)');
  ({ server, url: base } = await serve(path.join(root, 'www')));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function polishDecoder() {
  const context = await browser.newContext({ locale: 'pl-PL', viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => { throw e; });
  await page.goto(`${base}#decoder`);
  await page.waitForFunction(() => document.body.dataset.ready === '1');
  return { context, page };
}

/** The error texts the decoder view shows (the input's, and each conversation item's). */
const shownErrors = (page) => page.evaluate(() =>
  [...document.querySelectorAll('#decode-error:not([hidden]), #conversation .error')].map((e) => e.textContent));

function assertPolish(label, text, rustWords) {
  assert.ok(!text.includes(rustWords), `${label}: the Rust wording "${rustWords}" shows: ${text}`);
  const found = english.filter((p) => text.includes(p));
  assert.deepEqual(found, [], `${label}: English text shows: ${text}`);
}

test('every malformed input gets its error in Polish, with its byte offset', async () => {
  const { context, page } = await polishDecoder();
  for (const [label, hex, rustWords] of HEX_INPUTS) {
    await page.fill('#hex', hex);
    await page.click('#decode-btn');
    await page.waitForFunction(() => document.querySelector('#decode-error:not([hidden]), #conversation .error'), null, { timeout: 5000 })
      .catch(async () => assert.fail(`${label}: no error shown; the page says ${await page.textContent('#decode-summary')}`));
    const errors = await shownErrors(page);
    assert.equal(errors.length, 1, `${label}: one error shown, got ${JSON.stringify(errors)}`);
    assertPolish(label, errors[0], rustWords);
    if (label !== 'hex: no digits') assert.match(errors[0], /(bajt|znak) \d+/, `${label}: the byte offset shows: ${errors[0]}`);
  }
  await context.close();
});

test('a damaged capture file gets its error in Polish', async () => {
  const { context, page } = await polishDecoder();
  // A whole pcap file header (Ethernet), then a packet record cut short.
  const pcapHeader = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];
  const cases = [
    ['pcap', Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0]), 'pcap file header truncated'],
    ['pcapng', Buffer.from([0x0a, 0x0d, 0x0d, 0x0a, 1, 2, 3]), 'pcapng section header block'],
    ['empty.pcap', Buffer.from(pcapHeader), 'no KMS conversation'],
    ['cut.pcap', Buffer.from([...pcapHeader, 1, 2, 3, 4, 5, 6, 7, 8]), 'truncated capture'],
  ];
  for (const [name, buffer, rustWords] of cases) {
    await page.setInputFiles('#file', { name: `bad.${name}`, mimeType: 'application/octet-stream', buffer });
    await page.waitForFunction(() => document.querySelector('#decode-error:not([hidden])'));
    const shown = await page.textContent('#decode-error');
    assertPolish(name, shown, rustWords);
    if (!name.endsWith('.pcap')) assert.match(shown, /^plik przechwytywania, bajt 0: /, shown);
  }
  await context.close();
});

test('the Display text of every decoder error variant has a Polish message', async () => {
  const { context, page } = await polishDecoder();
  const shown = await page.evaluate(async (texts) => {
    const { translateDecoderError } = await import('./wasm-errors.js');
    return texts.map(translateDecoderError);
  }, DISPLAY_TEXTS);
  const notes = await page.evaluate(async (texts) => {
    const { translateDecoderNote } = await import('./wasm-errors.js');
    return texts.map(translateDecoderNote);
  }, NOTE_TEXTS);
  NOTE_TEXTS.forEach((rust, i) => {
    assert.notEqual(notes[i], rust, `no pattern for the note: ${rust}`);
    assertPolish(rust, notes[i], rust.slice(-24));
  });
  DISPLAY_TEXTS.forEach((rust, i) => {
    assert.notEqual(shown[i], rust, `no pattern for: ${rust}`);
    assertPolish(rust, shown[i], rust.replace(/^.*?: /, '').slice(0, 24));
  });
  await context.close();
});

test('on the English page every decoder error reads exactly as the Rust Display text', async () => {
  const context = await browser.newContext({ locale: 'en-US' });
  const page = await context.newPage();
  await page.goto(`${base}#decoder`);
  await page.waitForFunction(() => document.body.dataset.ready === '1');
  const shown = await page.evaluate(async (texts) => {
    const { translateDecoderError } = await import('./wasm-errors.js');
    return texts.map(translateDecoderError);
  }, DISPLAY_TEXTS);
  assert.deepEqual(shown, DISPLAY_TEXTS);
  const notes = await page.evaluate(async (texts) => {
    const { translateDecoderNote } = await import('./wasm-errors.js');
    return texts.map(translateDecoderNote);
  }, NOTE_TEXTS);
  assert.deepEqual(notes, NOTE_TEXTS);
  await context.close();
});
