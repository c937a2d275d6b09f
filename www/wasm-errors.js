// The lookup module's errors (src/web.rs) are English sentences of a fixed
// wording; each pattern below names one and maps it to its message key, so
// the page shows it in the visitor's language. A sentence no pattern knows
// is shown as it came (English), never dropped.
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
