// DNS helper: the _vlmcs._tcp SRV record as a zone line and as PowerShell.
import { dns_records } from './pkg/kmsedge.js';
import { $, copyText, debounce } from './dom.js';
import { t, onLanguage } from './i18n.js';
import { translateError } from './wasm-errors.js';

function render() {
  const domain = $('dns-domain').value;
  const host = $('dns-host').value;
  const err = $('dns-error');
  const out = $('dns-out');
  if (!domain.trim() && !host.trim()) { err.hidden = true; out.hidden = true; return; }
  const port = Number.parseInt($('dns-port').value, 10);
  const r = JSON.parse(dns_records(domain, host, Number.isInteger(port) && port > 0 && port < 65536 ? port : 0));
  if (r.error) {
    err.textContent = translateError(r.error);
    err.hidden = false;
    out.hidden = true;
    return;
  }
  err.hidden = true;
  $('dns-zone').textContent = r.zone_line;
  $('dns-ps').textContent = r.powershell;
  $('dns-check').textContent = r.check;
  out.hidden = false;
}

export function setupDns() {
  const r = debounce(render, 100);
  for (const id of ['dns-domain', 'dns-host', 'dns-port']) $(id).addEventListener('input', r);
  onLanguage(render);
  for (const b of document.querySelectorAll('#view-dns [data-copy-from]')) {
    b.addEventListener('click', () => copyText($(b.dataset.copyFrom).textContent, t('dns.record')));
  }
}
