// The sources panel: each configured source, its last result and a button
// that starts a backup of it.

import { api } from './api.js';
import { el, hidden, size, timeEl } from './format.js';

const rank = (s) => ({ queued: 0, running: 1 })[s] ?? 2;
const busy = (b) => b && (b.status === 'queued' || b.status === 'running');

export class Sources {
  constructor({ list, onRun }) {
    this.list = list;
    this.onRun = onRun;
    this.byName = new Map();
    this.pending = new Set(); // names whose POST has not been answered yet
  }

  async load() {
    const all = await api('/sources');
    const before = this.byName;
    this.byName = new Map(all.map((s) => [s.name, s]));
    // Keep what events said meanwhile, where it is newer than the answer.
    for (const s of before.values()) if (s.last) this.backup(s.last, false);
    // Update the entries in place: a button that is replaced under a
    // pointer or the keyboard focus would swallow the click or lose focus.
    const items = all.map((s) => this.item(s) ?? this.build(s));
    items.forEach((li, i) => this.update(all[i], li));
    // Even the same nodes, put back, are detached for a moment: a click
    // whose press and release straddle that moment never fires. So the
    // list is only rebuilt when its entries changed.
    const kids = this.list.children;
    if (kids.length !== items.length || items.some((li, i) => kids[i] !== li)) {
      this.list.replaceChildren(...items);
    }
    if (!all.length) this.list.append(el('li', { class: 'muted' }, 'No sources are configured.'));
  }

  names() {
    return [...this.byName.keys()];
  }

  /** backup notes a backup's news; only a local one can be a source's last. */
  backup(b, show = true) {
    const s = this.byName.get(b.source);
    if (!s || b.origin !== 'local' || (s.last && s.last.id > b.id)) return;
    if (s.last?.id === b.id && rank(b.status) < rank(s.last.status)) return;
    s.last = { ...(s.last?.id === b.id ? s.last : {}), ...b };
    if (show) this.render(s);
  }

  async run(name) {
    this.pending.add(name);
    this.render(this.byName.get(name));
    try {
      this.backup(await api('/backups', { method: 'POST', body: { source: name } }));
      return true;
    } finally {
      this.pending.delete(name);
      this.render(this.byName.get(name));
    }
  }

  item(s) {
    return this.list.querySelector(`li[data-source="${CSS.escape(s.name)}"]`);
  }

  render(s) {
    const li = this.item(s);
    if (li) this.update(s, li);
  }

  build(s) {
    const id = `src-${s.name}`;
    const button = el('button', { type: 'button', class: 'run', 'data-source': s.name },
      'Run backup', hidden(` of ${s.name}`));
    button.addEventListener('click', () => this.onRun(s.name));
    return el('li', { class: 'source', 'data-source': s.name },
      el('div', { class: 'source-head' },
        el('h3', { id }, s.name),
        el('span', { class: 'muted' }, [s.kind, s.schedule].filter(Boolean).join(' · '))),
      button,
      el('p', { class: 'last' }));
  }

  /** update shows s's last backup and whether it can run now. */
  update(s, li) {
    li.querySelector('button.run').disabled = busy(s.last) || this.pending.has(s.name);
    li.querySelector('.last').replaceChildren(lastText(s.last));
  }
}

function lastText(b) {
  if (!b) return 'No backup yet';
  const parts = [el('span', { class: `badge s-${b.status}` }, b.status)];
  if (b.status === 'running' && b.bytes_done) parts.push(` ${size(b.bytes_done)} read`);
  else if (b.status === 'succeeded') parts.push(` ${size(b.size_bytes)}`);
  else parts.push(' ');
  const at = b.finished_at || b.started_at || b.created_at;
  parts.push(' · ', timeEl(at));
  if (b.error) parts.push(el('span', { class: 'error-text' }, b.error));
  const p = document.createDocumentFragment();
  p.append(hidden('Last backup: '), ...parts);
  return p;
}
