// The wasm modules' errors are English sentences of a fixed wording (the
// lookup's in src/web.rs, the decoder's in src/inspect/error.rs and
// hex.rs, and what reaches it from src/wire/, src/kms/seal.rs and
// src/capture/); each pattern below names one and maps it to its message
// key, so the page shows it in the visitor's language. Every Display text
// the page can receive has a pattern (tests/browser/errors-i18n.test.mjs
// feeds one input per kind); a sentence none knows is still shown as it
// came, never dropped. PDU type names (bind_ack, alter_context_resp …),
// field names (frag_length, PIDSize, ePID) and found bytes are protocol
// identifiers and stay as they are in both languages.
import { t } from './i18n.js';

const PATTERNS = [
  [/^domain: (.*)$/s, (m) => t('err.in.domain', { message: translateError(m[1]) })],
  [/^host: (.*)$/s, (m) => t('err.in.host', { message: translateError(m[1]) })],
  [/^the host is empty; expected a DNS name or an IP address$/, () => t('err.host.empty')],
  [/^(".*") is not a host: give the port/s, (m) => t('err.host.port', { name: m[1] })],
  [/^(".*") is longer than 253 characters$/s, (m) => t('err.name.long', { name: m[1] })],
  [/^(".*") is not a valid DNS name: label (".*") at character (\d+);/s,
    (m) => t('err.name.label', { name: m[1], label: m[2], at: Number(m[3]) })],
  [/^the domain is empty;/, () => t('err.domain.empty')],
  [/^the port is 0;/, () => t('err.port.zero')],
  [/^the host is empty; expected the KMS host's DNS name$/, () => t('err.dnshost.empty')],
  [/^(\S+) is an address; an SRV record/, (m) => t('err.dnshost.address', { host: m[1] })],
  [/^(".*") is not a product id;/s, (m) => t('err.product.id', { id: m[1] })],
  [/^no product with id (\S+) in the catalogue$/, (m) => t('err.product.none', { id: m[1] })],
];

/** The wasm module's error `msg` in the page's language. */
export function translateError(msg) {
  for (const [re, fn] of PATTERNS) {
    const m = re.exec(msg);
    if (m) return fn(m);
  }
  return msg;
}

// The decoder: "at byte N: <what>" and the hex reader's "hex input, line L column C (character offset O): <what>".
const DECODER = [
  [/^no input; expected DCE\/RPC PDUs or a KMS message$/, () => t('derr.empty')],
  [/^expected a DCE\/RPC header \(05 00 …\) or a KMS version word .*, found((?: [0-9a-f]{2})*)$/, (m) => t('derr.start', { found: m[1].trim() })],
  [/^input ends inside the (.+) that starts at byte (\d+): expected (\d+) bytes, found (\d+)$/,
    (m) => t('derr.truncated', { what: part(m[1]), from: m[2], needed: m[3], have: m[4] })],
  [/^RPC version (\d+\.\d+); expected 5\.0/, (m) => t('derr.rpcversion', { version: m[1] })],
  [/^frag_length (\d+); expected at least 16/, (m) => t('derr.fraglength', { n: m[1] })],
  [/^auth_length (\d+); expected 0/, (m) => t('derr.authlength', { n: m[1] })],
  [/^pfc_flags (0x[0-9a-f]{2}); expected a single fragment/, (m) => t('derr.fragmented', { flags: m[1] })],
  [/^unexpected (.+); expected hex digits, whitespace, ',' or a 0x prefix$/, (m) => t('derr.hex.char', { ch: m[1] })],
  [/^a group of (\d+) hex digits; expected an even number/, (m) => t('derr.hex.odd', { n: m[1] })],
  [/^expected hex digits after the prefix$/, () => t('derr.hex.prefix')],
  [/^more than (\d+) bytes$/, (m) => t('derr.hex.toolong', { n: m[1] })],
  [/^data representation (0x[0-9a-f]{2}); expected 0x10/, (m) => t('derr.drep', { found: m[1] })],
  [/^malformed: (.+)$/s, (m) => (isPart(m[1]) ? t('derr.malformed.in', { what: part(m[1]) }) : t('derr.malformed', { message: inner(m[1]) }))],
  [/^NDR stub: (.+)$/s, (m) => t('derr.stub', { message: inner(m[1]) })],
  [/^(stub|KMS request|KMS response) truncated: need (\d+) bytes, have (\d+)$/,
    (m) => t('derr.short', { what: part(m[1]), needed: m[2], have: m[3] })],
  [/^size (\d+) differs from array conformance (\d+)$/, (m) => t('derr.stub.size', { size: m[1], conformance: m[2] })],
  [/^response pointer and size disagree$/, () => t('derr.stub.pointer')],
  [/^non-zero NDR padding$/, () => t('derr.stub.padding')],
  [/^response carries a message and return value (0x[0-9A-F]{8})$/, (m) => t('derr.stub.return', { value: m[1] })],
  [/^unsupported KMS protocol version (\S+)$/, (m) => t('derr.kms.version', { version: m[1] })],
  [/^V4 request MAC does not match$/, () => t('derr.kms.mac')],
  [/^decrypted request has invalid padding/, () => t('derr.kms.reqpadding')],
  [/^response does not decrypt to valid PKCS#7 padding$/, () => t('derr.kms.resppadding')],
  [/^invalid PIDSize (\d+)$/, (m) => t('derr.kms.pidsize', { n: m[1] })],
  [/^ePID is not NUL-terminated$/, () => t('derr.kms.pidnul')],
  [/^ePID contains an embedded NUL$/, () => t('derr.kms.pidembedded')],
  [/^decrypted response is (\d+) bytes, PIDSize implies (\d+)$/, (m) => t('derr.kms.length', { have: m[1], expected: m[2] })],
  [/^context element offers no transfer syntax$/, () => t('derr.bind.nosyntax')],
  [/^not a capture: found (.+?); expected the magic number/s,
    (m) => t('derr.capture.magic', { found: m[1] === 'no bytes' ? t('derr.capture.nobytes') : m[1] })],
  [/^pcap file header truncated or invalid/, () => t('derr.capture.pcap')],
  [/^pcapng section header block invalid or truncated$/, () => t('derr.capture.pcapng')],
];

// The parts of a PDU a truncation or malformation names (src/inspect/mod.rs
// pdu_what and wire_error, src/inspect/error.rs): the PDU type stays.
const PARTS = [
  [/^(\w+) PDU$/, (m) => t('derr.part.pdu', { type: m[1] })],
  [/^PDU$/, () => t('derr.part.anypdu')],
  [/^(\w+) body$/, (m) => t('derr.part.body', { type: m[1] })],
  [/^(\w+) header$/, (m) => t('derr.part.header', { type: m[1] })],
  [/^DCE\/RPC PDU header$/, () => t('derr.part.rpcheader')],
  [/^NDR stub$/, () => t('derr.part.stub')],
  [/^stub$/, () => t('derr.part.stubshort')],
  [/^KMS request$/, () => t('derr.part.request')],
  [/^KMS response$/, () => t('derr.part.response')],
];

const isPart = (what) => PARTS.some(([re]) => re.test(what));

function part(what) {
  for (const [re, fn] of PARTS) {
    const m = re.exec(what);
    if (m) return fn(m);
  }
  return inner(what);
}

/** A decoder error in the page's language (its byte offsets and found bytes as they came). */
export function translateDecoderError(msg) {
  let m = /^at byte (\d+): (.*)$/s.exec(msg);
  if (m) return t('derr.at', { offset: m[1], message: inner(m[2]) });
  m = /^hex input, line (\d+) column (\d+) \(character offset (\d+)\): (.*)$/s.exec(msg);
  if (m) return t('derr.hex.at', { line: m[1], column: m[2], offset: m[3], message: inner(m[4]) });
  if (/^hex input: no hex digits found;/.test(msg)) return t('derr.hex.empty');
  m = /^no KMS conversation in the capture's (\d+) packets: expected TCP traffic to or from port (\d+) \(or starting with a DCE\/RPC bind to the KMS interface\)(.*)$/s.exec(msg);
  if (m) return t('derr.capture.none', { n: m[1], port: m[2] }) + notesAfter(m[3]);
  m = /^capture file, byte (\d+): (.*)$/s.exec(msg);
  if (m) return t('derr.capture.at', { offset: m[1], message: inner(m[2]) });
  return msg;
}

function inner(msg) {
  for (const [re, fn] of DECODER) {
    const m = re.exec(msg);
    if (m) return fn(m);
  }
  return msg;
}

// The capture reader's notes (src/capture/mod.rs, flows.rs): not errors,
// but shown with them, and appended to the "no KMS conversation" error.
const NOTES = [
  [/^packets of link type (\d+) are not decoded \(first: packet (\d+)\)/, (m) => t('dnote.link', { link: m[1], packet: m[2] })],
  [/^packet (\d+) \(byte (\d+)\) names interface (\d+) that was never described/,
    (m) => t('dnote.interface', { packet: m[1], offset: m[2], id: m[3] })],
  [/^packet (\d+) \(byte (\d+)\) comes before any interface description/, (m) => t('dnote.nointerface', { packet: m[1], offset: m[2] })],
  [/^the file ends inside the packet record at byte (\d+) \(truncated capture\); the packets before it were read/,
    (m) => t('dnote.recordcut', { offset: m[1] })],
  [/^the file ends inside \(or has a malformed\) pcapng block at byte (\d+); the packets before it were read/,
    (m) => t('dnote.blockcut', { offset: m[1] })],
  [/^(.+?): (\d+) bytes missing at stream offset (\d+) before packet (\d+) \(not in the capture\); the stream is decoded up to there/,
    (m) => t('dnote.hole', { flow: m[1], n: m[2], offset: m[3], packet: m[4] })],
];

/** A capture note in the page's language (an unknown one as it came). */
export function translateDecoderNote(note) {
  for (const [re, fn] of NOTES) {
    const m = re.exec(note);
    if (m && m[0].length === note.length) return fn(m);
  }
  return note;
}

/** The notes the reader appends to an error, each after "; ". */
function notesAfter(rest) {
  let out = '';
  while (rest.startsWith('; ')) {
    rest = rest.slice(2);
    const hit = NOTES.map(([re, fn]) => [re.exec(rest), fn]).find(([m]) => m);
    if (!hit) return `${out}; ${rest}`;
    out += `; ${hit[1](hit[0])}`;
    rest = rest.slice(hit[0][0].length);
  }
  return out + rest;
}
