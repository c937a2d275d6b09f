// The wasm modules' errors are English sentences of a fixed wording (the
// lookup's in src/web.rs, the decoder's in src/inspect/error.rs and
// hex.rs); each pattern below names one and maps it to its message key, so
// the page shows it in the visitor's language. A sentence no pattern knows
// (the rarer decoder details) is shown as it came, in English, never dropped.
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
    (m) => t('derr.truncated', { what: m[1], from: m[2], needed: m[3], have: m[4] })],
  [/^RPC version (\d+\.\d+); expected 5\.0/, (m) => t('derr.rpcversion', { version: m[1] })],
  [/^frag_length (\d+); expected at least 16/, (m) => t('derr.fraglength', { n: m[1] })],
  [/^auth_length (\d+); expected 0/, (m) => t('derr.authlength', { n: m[1] })],
  [/^pfc_flags (0x[0-9a-f]{2}); expected a single fragment/, (m) => t('derr.fragmented', { flags: m[1] })],
  [/^unexpected (.+); expected hex digits, whitespace, ',' or a 0x prefix$/, (m) => t('derr.hex.char', { ch: m[1] })],
  [/^a group of (\d+) hex digits; expected an even number/, (m) => t('derr.hex.odd', { n: m[1] })],
  [/^expected hex digits after the prefix$/, () => t('derr.hex.prefix')],
];

/** A decoder error in the page's language (its byte offsets and found bytes as they came). */
export function translateDecoderError(msg) {
  let m = /^at byte (\d+): (.*)$/s.exec(msg);
  if (m) return t('derr.at', { offset: m[1], message: inner(m[2]) });
  m = /^hex input, line (\d+) column (\d+) \(character offset (\d+)\): (.*)$/s.exec(msg);
  if (m) return t('derr.hex.at', { line: m[1], column: m[2], offset: m[3], message: inner(m[4]) });
  if (/^hex input: no hex digits found;/.test(msg)) return t('derr.hex.empty');
  return msg;
}

function inner(msg) {
  for (const [re, fn] of DECODER) {
    const m = re.exec(msg);
    if (m) return fn(m);
  }
  return msg;
}
