// The sources overview: one row per configured source that answers "is
// anything wrong?": a health mark, the last success and failure, the next
// run, a trend of sizes and durations, and a button that starts a backup.
// Failing and overdue sources come first.

import { api } from './api.js';
import { trend } from './chart.js';
import { agoEl, duration, el, hidden, size, timeEl } from './format.js';

const HISTORY = 30; // as many as the API sends
const rank = (s) => ({ queued: 0, running: 1 })[s] ?? 2;
const busy = (b) => b && (b.status === 'queued' || b.status === 'running');
const FINAL = new Set(['succeeded', 'failed', 'canceled']);

const HEALTH = {
  failing: { order: 0, text: 'Failing', mark: '✕' },
  overdue: { order: 1, text: 'Overdue', mark: '!' },
  never: { order: 2, text: 'Never run', mark: '–' },
  ok: { order: 3, text: 'OK', mark: '✓' },
};

/** health is what is wrong with a source, if anything. */
export function health(s) {
  const ok = s.last_success;
  const bad = s.last_failure;
  if (bad && (!ok || bad.id > ok.id)) return 'failing';
  if (s.overdue) return 'overdue';
  return ok ? 'ok' : 'never';
}

export class Sources {
  constructor({ list, onRun }) {
    this.list = list;
    this.onRun = onRun;
    this.byName = new Map();
    this.order = []; // names in config order
    this.pending = new Set(); // names whose POST has not been answered yet
    this.seen = new Map(); // final backups from events, re-applied after a load
    this.els = new Map(); // name -> its <li>, kept across loads
  }

  async load() {
    const all = await api('/sources');
    const before = this.byName;
    this.byName = new Map(all.map((s) => [s.name, s]));
    this.order = all.map((s) => s.name);
    for (const n of this.els.keys()) if (!this.byName.has(n)) this.els.delete(n);
    // Keep what events said meanwhile, where it is newer than the answer.
    for (const s of before.values()) if (s.last) this.backup(s.last, false);
    for (const b of this.seen.values()) this.finished(b, false);
    // Update the entries in place: a button that is replaced under a
    // pointer or the keyboard focus would swallow the click or lose focus.
    for (const s of all) this.update(s, this.item(s) ?? this.build(s));
    this.sort();
    if (!all.length) this.list.replaceChildren(el('li', { class: 'muted' }, 'No sources are configured.'));
  }

  names() {
    return [...this.byName.keys()];
  }

  /** backup notes a backup's news; only a local one can be a source's last. */
  backup(b, show = true) {
    const s = this.byName.get(b.source);
    if (!s) return;
    if (FINAL.has(b.status)) this.finished(b, false);
    if (b.origin === 'local' && !(s.last && s.last.id > b.id)
      && !(s.last?.id === b.id && rank(b.status) < rank(s.last.status))) {
      s.last = { ...(s.last?.id === b.id ? s.last : {}), ...b };
    }
    if (show) this.render(s);
  }

  /**
   * finished takes a backup that ended (here or reported) into the
   * source's last success or failure and its history.
   */
  finished(b, show = true) {
    const s = this.byName.get(b.source);
    if (!s || !FINAL.has(b.status)) return;
    this.seen.set(b.id, b);
    if (this.seen.size > 500) this.seen.delete(this.seen.keys().next().value);
    if (b.status === 'succeeded' && !(s.last_success && s.last_success.id > b.id)) {
      s.last_success = b;
      s.overdue = false; // a success now is within any schedule's interval
      s.overdue_since = null;
    }
    if (b.status === 'failed' && !(s.last_failure && s.last_failure.id > b.id)) s.last_failure = b;
    const h = (s.history || []).filter((p) => p.id !== b.id);
    h.push({
      id: b.id, status: b.status, finished_at: b.finished_at, size_bytes: b.size_bytes || 0,
      duration_seconds: b.started_at && b.finished_at ? (Date.parse(b.finished_at) - Date.parse(b.started_at)) / 1000 : 0,
    });
    s.history = h.sort((x, y) => x.id - y.id).slice(-HISTORY);
    if (show) {
      this.render(s);
      this.sort();
    }
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
    return this.els.get(s.name);
  }

  render(s) {
    const li = s && this.item(s);
    if (li) this.update(s, li);
  }

  /** tick refreshes the relative times ("2h ago"). */
  tick() {
    for (const s of this.byName.values()) this.render(s);
  }

  /**
   * sort puts failing and overdue sources first, the rest in config
   * order. Even the same nodes, put back, are detached for a moment: a
   * click whose press and release straddle that moment never fires. So
   * the list is only rebuilt when its order changed.
   */
  sort() {
    const pos = new Map(this.order.map((n, i) => [n, i]));
    const items = [...this.byName.values()]
      .sort((a, b) => HEALTH[health(a)].order - HEALTH[health(b)].order || pos.get(a.name) - pos.get(b.name))
      .map((s) => this.item(s));
    const kids = this.list.children;
    if (kids.length !== items.length || items.some((li, i) => kids[i] !== li)) {
      this.list.replaceChildren(...items);
    }
  }

  build(s) {
    const button = el('button', { type: 'button', class: 'run', 'data-source': s.name },
      'Run backup', hidden(` of ${s.name}`));
    button.addEventListener('click', () => this.onRun(s.name));
    const li = el('li', { class: 'source', 'data-source': s.name },
      el('div', { class: 'src-name' },
        el('span', { class: 'mark', 'aria-hidden': 'true' }),
        el('h3', {}, s.name),
        el('span', { class: 'badge health' }),
        el('span', { class: 'muted meta' }, [s.kind, s.schedule].filter(Boolean).join(' · ')),
        el('p', { class: 'last' })),
      el('div', { class: 'src-ok' }),
      el('div', { class: 'src-fail' }),
      el('div', { class: 'src-next' }),
      el('div', { class: 'src-chart' }),
      el('div', { class: 'src-act' }, button));
    this.els.set(s.name, li);
    return li;
  }

  /** update shows s's health, its figures, and whether it can run now. */
  update(s, li) {
    const h = health(s);
    li.dataset.health = h;
    li.querySelector('.mark').textContent = HEALTH[h].mark;
    const badge = li.querySelector('.health');
    badge.textContent = HEALTH[h].text;
    badge.className = `badge health h-${h}`;
    li.querySelector('.src-ok').replaceChildren(...successCell(s));
    li.querySelector('.src-fail').replaceChildren(...failureCell(s));
    li.querySelector('.src-next').replaceChildren(...nextCell(s));
    const chart = li.querySelector('.src-chart');
    const key = (s.history || []).map((p) => `${p.id}${p.status}`).join();
    if (chart.dataset.key !== key) {
      chart.dataset.key = key;
      chart.replaceChildren(trend(s.history || []));
    }
    li.querySelector('button.run').disabled = busy(s.last) || this.pending.has(s.name);
    li.querySelector('.last').replaceChildren(...activity(s.last));
  }
}

const label = (text) => el('span', { class: 'label' }, text);
const abs = (iso) => el('span', { class: 'abs' }, timeEl(iso, { seconds: false }));
const at = (b) => b.finished_at || b.started_at || b.created_at;

function successCell(s) {
  const b = s.last_success;
  if (!b) return [label('Last success'), el('span', { class: 'value muted' }, 'none yet')];
  const d = b.started_at && b.finished_at ? duration(Date.parse(b.finished_at) - Date.parse(b.started_at)) : '';
  return [label('Last success'),
    el('span', { class: 'value' }, agoEl(at(b)), el('span', { class: 'muted' }, ` · ${[size(b.size_bytes), d].filter(Boolean).join(', ')}`)),
    abs(at(b))];
}

function failureCell(s) {
  const b = s.last_failure;
  if (!b) return [label('Last failure'), el('span', { class: 'value muted' }, 'none')];
  return [label('Last failure'),
    el('span', { class: 'value' }, agoEl(at(b)), el('span', { class: 'abs' }, ' · ', timeEl(at(b), { seconds: false }))),
    el('span', { class: 'error-text', title: b.error || '' }, b.error || 'no error recorded')];
}

function nextCell(s) {
  const out = [label('Next run')];
  if (!s.next_run) out.push(el('span', { class: 'value muted' }, s.schedule ? 'not scheduled' : 'on request'));
  else out.push(el('span', { class: 'value' }, agoEl(s.next_run)), abs(s.next_run));
  if (s.overdue && s.overdue_since) {
    out.push(el('span', { class: 'overdue-note' }, 'Overdue since ', agoEl(s.overdue_since)));
  }
  return out;
}

/** activity is what the source is doing now: a queued or running backup. */
function activity(b) {
  if (!busy(b)) return [];
  const parts = [el('span', { class: `badge s-${b.status}` }, b.status)];
  if (b.status === 'running' && b.bytes_done) parts.push(` ${size(b.bytes_done)} read`);
  return [hidden('Now: '), ...parts];
}
