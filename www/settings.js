// The host dashboard's Settings section: the fields of the Volume Activation
// Tools wizard's configuration page (KMS port, DNS publishing and the record
// it publishes, priority, activation and renewal intervals) and the host
// keys (slmgr /ipk, /upk), read from GET api/settings and changed with one
// PUT api/settings per field, as one slmgr verb each (the host validates
// again, stores the change over its start-up configuration and logs an
// event). Values are checked inline before anything is sent; a change that
// clients notice (port, intervals, host keys) asks for confirmation first.
// host.js owns the token; this module gets `api(path)` and `put(path, body)`.
import { h } from './dom.js';
import { t, rich, CATALOGUES } from './i18n.js';

// Every string is a message of the catalogues (www/i18n/*.js, keys st.*),
// read when the section is built: host.js rebuilds it on a change of language.

// What a change tells the confirmation, per setting (slmgr's verbs that clients notice).
const AFFECTS = {
  port: 'st.affects.port',
  activation_interval: 'st.affects.ai',
  renewal_interval: 'st.affects.ri',
  install_key: 'st.affects.ipk',
  uninstall_key: 'st.affects.upk',
};

// The API names settings as slmgr's verbs do; the page shows the field's label.
const LABELS = {
  port: 'st.port',
  dns_publishing: 'st.dns',
  priority: 'st.priority',
  activation_interval: 'st.activation',
  renewal_interval: 'st.renewal',
  host_keys: 'st.keys',
  install_key: 'st.install',
  uninstall_key: 'st.uninstall',
};
export const settingLabel = (name) => (LABELS[name] ? t(LABELS[name]) : name);

/**
 * A setting event's message (model/admin.rs words it: "60 minutes", "on",
 * "low", a port) in the page's language; a host key's message (its last
 * five characters and catalogue names) as the host words it.
 */
export function settingValue(message) {
  const m = /^(\d+) minutes$/.exec(message);
  if (m) return t('hd.minutes', { n: Number(m[1]) });
  const words = { on: 'st.on', off: 'st.off', low: 'st.low', normal: 'st.normal' };
  return words[message] ? t(words[message]) : message;
}

// The hosts word their fixed notes in English (api/settings); these are shown
// in the page's language, any other note (the OS's own words) as it comes.
const NOTES = ['st.note.dns.unconfigured', 'st.note.edge.priority', 'st.note.edge.dns', 'st.note.edge.port'];
function note(text) {
  if (!text) return '';
  const key = NOTES.find((k) => CATALOGUES.en[k] === text);
  return key ? t(key) : text;
}

const MINUTES = [15, 43200];

/** '' when `v` is valid for `kind`, else what it should be. */
export function invalid(kind, v) {
  const s = String(v).trim();
  if (kind === 'port') return /^\d{1,5}$/.test(s) && Number(s) >= 1 && Number(s) <= 65535 ? '' : t('st.not.port');
  if (kind === 'minutes') return /^\d{1,5}$/.test(s) && Number(s) >= MINUTES[0] && Number(s) <= MINUTES[1] ? '' : t('st.not.minutes', { min: MINUTES[0], max: MINUTES[1] });
  if (kind === 'key') return /^[A-Za-z0-9]{5}(-?[A-Za-z0-9]{5}){4}$/.test(s) ? '' : t('st.not.key');
  return '';
}

function numberField(id, label, help, kind) {
  const input = h('input', { id, type: 'text', inputmode: 'numeric', autocomplete: 'off', 'aria-describedby': `${id}-help ${id}-error` });
  const error = h('small', { id: `${id}-error`, class: 'st-error', role: 'alert', hidden: true });
  const check = () => {
    const why = input.disabled ? '' : invalid(kind, input.value);
    error.textContent = why;
    error.hidden = !why;
    input.setAttribute('aria-invalid', why ? 'true' : 'false');
    return !why;
  };
  input.addEventListener('input', check);
  const helpEl = h('small', { id: `${id}-help` });
  rich(helpEl, help);
  const el = h('div', { class: 'field' }, h('label', { for: id }, label), input, helpEl, error);
  return { el, input, check };
}

/** Builds the section. Returns { el, load }. */
export function settingsSection({ api, put, fail }) {
  let current = null;
  const port = numberField('st-port', t('st.port'), t('st.port.help'), 'port');
  const ai = numberField('st-ai', t('st.activation'), t('st.activation.help'), 'minutes');
  const ri = numberField('st-ri', t('st.renewal'), t('st.renewal.help'), 'minutes');
  const dns = h('input', { id: 'st-dns', type: 'checkbox' });
  const record = h('code', { id: 'st-dns-record' });
  const dnsNote = h('small', { id: 'st-dns-note' });
  const priority = h('select', { id: 'st-priority' },
    h('option', { value: 'normal' }, t('st.normal')), h('option', { value: 'low' }, t('st.low')));
  const priorityNote = h('small', { id: 'st-priority-note' });
  const keys = h('ul', { id: 'st-keys', class: 'hd-plain' });
  const key = numberField('st-key', t('st.install'), t('st.install.help'), 'key');
  key.input.setAttribute('inputmode', 'text');
  key.input.setAttribute('spellcheck', 'false');
  const changedLine = h('p', { id: 'st-changed', class: 'hd-note' });
  const status = h('p', { id: 'st-status', class: 'status', role: 'status', 'aria-live': 'polite' });
  const errorBox = h('p', { id: 'st-error', class: 'error', role: 'alert', hidden: true });
  const confirmList = h('ul', { id: 'st-confirm-list' });
  const confirmBox = h('div', { id: 'st-confirm', class: 'st-confirm', role: 'alertdialog', 'aria-labelledby': 'st-confirm-title', hidden: true },
    h('p', { id: 'st-confirm-title' }, t('st.confirm.title')), confirmList,
    h('div', { class: 'actions' },
      h('button', { type: 'button', id: 'st-confirm-yes', onclick: () => commit(pending) }, t('st.confirm')),
      h('button', { type: 'button', id: 'st-confirm-no', class: 'secondary', onclick: () => { confirmBox.hidden = true; pending = []; } }, t('st.cancel'))));
  let pending = [];

  /** The changes the form holds, in slmgr's order. */
  function changes(extra = []) {
    if (!current) return [];
    const out = [];
    if (current.port !== null && port.input.value.trim() !== String(current.port)) out.push({ setting: 'port', value: port.input.value.trim() });
    if (dns.checked !== current.dns_publishing) out.push({ setting: 'dns_publishing', value: String(dns.checked) });
    if (priority.value !== current.priority) out.push({ setting: 'priority', value: priority.value });
    if (ai.input.value.trim() !== String(current.activation_interval)) out.push({ setting: 'activation_interval', value: ai.input.value.trim() });
    if (ri.input.value.trim() !== String(current.renewal_interval)) out.push({ setting: 'renewal_interval', value: ri.input.value.trim() });
    if (key.input.value.trim()) out.push({ setting: 'install_key', value: key.input.value.trim() });
    return out.concat(extra);
  }

  function shown(c) {
    if (c.setting === 'install_key') return c.value.replace(/[^A-Za-z0-9]/g, '').slice(-5).toUpperCase();
    return c.value;
  }

  function ask(list) {
    const fields = [port, ai, ri];
    if (key.input.value.trim()) fields.push(key);
    if (!fields.map((f) => f.check()).every(Boolean)) return;
    if (!list.length) { status.textContent = t('st.nothing'); return; }
    const notable = list.filter((c) => AFFECTS[c.setting]);
    if (!notable.length) { commit(list); return; }
    pending = list;
    confirmList.replaceChildren(...notable.map((c) => h('li', {}, t(AFFECTS[c.setting], { value: shown(c), n: Number(c.value) }))));
    confirmBox.hidden = false;
    document.getElementById('st-confirm-yes').focus();
  }

  async function commit(list) {
    confirmBox.hidden = true;
    pending = [];
    errorBox.hidden = true;
    for (const c of list) {
      try {
        current = await put('api/settings', c);
      } catch (e) {
        if (fail(e)) return;
        errorBox.textContent = t('st.refused', { what: settingLabel(c.setting), message: e.message });
        errorBox.hidden = false;
        await load();
        return;
      }
    }
    key.input.value = '';
    fill(current);
    status.textContent = t('st.saved');
  }

  function fill(s) {
    current = s;
    port.input.value = s.port === null ? '' : String(s.port);
    port.input.disabled = s.port === null;
    if (s.port === null) port.input.placeholder = t('st.no.port');
    dns.checked = s.dns_publishing;
    record.textContent = s.dns_record ?? t('st.dns.none');
    dnsNote.textContent = note(s.notes.dns_publishing);
    priority.value = s.priority;
    priorityNote.textContent = note(s.notes.priority);
    ai.input.value = String(s.activation_interval);
    ri.input.value = String(s.renewal_interval);
    for (const f of [port, ai, ri]) f.check();
    keys.replaceChildren(...(s.host_keys.length ? s.host_keys.map((k) => h('li', { dataset: { partial: k.partial } },
      h('span', { class: 'mono' }, `…${k.partial}`), ` ${k.csvlk_name} `,
      h('button', { type: 'button', class: 'secondary', 'aria-label': t('st.uninstall.key', { partial: k.partial }),
        onclick: () => ask([{ setting: 'uninstall_key', value: k.partial }]) }, t('st.uninstall'))))
      : [h('li', { class: 'status' }, t('st.keys.none'))]));
    changedLine.textContent = s.changed.length ? t('st.changed', { names: s.changed.map(settingLabel).join(', ') }) : '';
  }

  async function load() {
    try {
      fill(await api('api/settings'));
    } catch (e) {
      if (fail(e)) return;
      errorBox.textContent = t('st.refused', { what: t('st.heading'), message: e.message });
      errorBox.hidden = false;
    }
  }

  const form = h('form', { id: 'st-form', class: 'fields', onsubmit: (e) => { e.preventDefault(); ask(changes()); } },
    port.el,
    h('div', { class: 'field' }, h('label', { class: 'hd-check' }, dns, ` ${t('st.dns')}`),
      h('small', {}, `${t('st.dns.record')}: `, record), dnsNote),
    h('div', { class: 'field' }, h('label', { for: 'st-priority' }, t('st.priority')), priority, priorityNote),
    ai.el, ri.el,
    h('div', { class: 'field wide' }, h('p', { class: 'hd-sub' }, t('st.keys')), keys),
    key.el,
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'st-apply' }, t('st.apply'))));
  const el = h('section', { class: 'hd-section', id: 'hd-settings', 'aria-labelledby': 'hd-h-settings' },
    h('h2', { id: 'hd-h-settings' }, t('st.heading')), h('p', { class: 'hd-note' }, t('st.intro')),
    changedLine, form, confirmBox, errorBox, status);
  return { el, load };
}
