// The catalog table: loaded page by page over REST, kept current by events.

import { api, archiveURL } from './api.js';
import { el, elapsed, hidden, size, timeEl } from './format.js';

const PAGE = 25;
const RANK = { queued: 0, running: 1 }; // every other status is final: 2
const rank = (s) => RANK[s] ?? 2;
const LABELS = ['#', 'Source', 'Origin', 'Status', 'Started', 'Duration', 'Size', 'SHA-256', 'Archive'];

export class Catalog {
  constructor({ table, empty, older, onDownload }) {
    this.tbody = table.tBodies[0];
    this.caption = table.caption;
    this.empty = empty;
    this.older = older;
    this.onDownload = onDownload;
    this.filters = { source: '', status: '' };
    this.byId = new Map();
    this.next = null; // before= for the next older page; null: none
    older.addEventListener('click', () => this.loadOlder());
    // Running backups' durations tick without an event per second.
    setInterval(() => this.tick(), 1000);
  }

  query(before) {
    const q = new URLSearchParams({ limit: PAGE });
    for (const [k, v] of Object.entries(this.filters)) if (v) q.set(k, v);
    if (before) q.set('before', before);
    return `/backups?${q}`;
  }

  /** reload replaces the table with the newest page for the filters. */
  async reload() {
    const r = await api(this.query());
    // Events may have arrived while the list was on its way: keep what they
    // said where it is newer than the list (upsert never moves back).
    const seen = this.byId;
    const newest = r.backups[0]?.id ?? 0;
    this.byId = new Map();
    this.page(r);
    for (const b of seen.values()) if (this.byId.has(b.id) || b.id > newest) this.upsert(b, true);
    for (const tr of [...this.tbody.rows]) if (!this.byId.has(Number(tr.dataset.id))) tr.remove();
    this.update();
  }

  async loadOlder() {
    if (!this.next) return;
    this.older.disabled = true;
    try {
      this.page(await api(this.query(this.next)));
    } finally {
      this.older.disabled = false;
    }
  }

  page(r) {
    for (const b of r.backups) this.upsert(b, true);
    this.next = r.next_before ?? null;
    this.older.hidden = !this.next;
    this.update();
  }

  matches(b) {
    const f = this.filters;
    return (!f.source || b.source === f.source) && (!f.status || b.status === f.status);
  }

  /**
   * upsert applies a backup as the server last described it. Statuses only
   * move forward, so a description older than the one shown (a list that
   * raced an event) is ignored.
   */
  upsert(b, fromList = false) {
    const old = this.byId.get(b.id);
    if (old && rank(b.status) < rank(old.status)) return;
    if (!old && !fromList && this.next && b.id < this.next) return; // on a page not loaded yet
    const cur = { ...old, ...b };
    if (!this.matches(cur)) {
      this.remove(b.id);
      return;
    }
    this.byId.set(b.id, cur);
    this.render(cur);
    this.update();
  }

  /** progress shows the bytes read so far by a running backup. */
  progress({ id, bytes_done: done }) {
    const b = this.byId.get(id);
    if (!b || b.status !== 'running') return;
    b.bytes_done = done;
    this.render(b);
  }

  remove(id) {
    this.byId.delete(id);
    this.row(id)?.remove();
    this.update();
  }

  row(id) {
    return this.tbody.querySelector(`tr[data-id="${id}"]`);
  }

  render(b) {
    const tr = this.build(b);
    const old = this.row(b.id);
    if (old) {
      if (old.innerHTML === tr.innerHTML && old.dataset.status === tr.dataset.status) return;
      // Keep the keyboard focus on the same control of the row.
      const focused = old.contains(document.activeElement) && document.activeElement.className;
      old.replaceWith(tr);
      if (focused) tr.querySelector(`.${focused.split(' ')[0]}`)?.focus();
      return;
    }
    // Newest first: before the first row with a smaller id.
    const after = [...this.tbody.rows].find((r) => Number(r.dataset.id) < b.id);
    this.tbody.insertBefore(tr, after ?? null);
  }

  build(b) {
    const cells = [
      el('th', { scope: 'row' }, String(b.id)),
      el('td', {}, b.source),
      el('td', {}, b.origin),
      statusCell(b),
      el('td', {}, timeEl(b.started_at || b.created_at)),
      el('td', { class: 'duration' }, elapsed(b)),
      el('td', { class: 'num' }, ...this.sizeCell(b)),
      el('td', {}, b.sha256 ? el('code', { title: b.sha256 }, b.sha256.slice(0, 12)) : ''),
      this.archiveCell(b),
    ];
    cells.forEach((c, i) => c.setAttribute('data-label', LABELS[i]));
    return el('tr', { 'data-id': b.id, 'data-status': b.status }, ...cells);
  }

  /** sizeCell: bytes read while running; then the size, and for a
   * repository backup what it added to the repository (the rest was
   * already there). */
  sizeCell(b) {
    if (b.status === 'running') return [b.bytes_done ? `${size(b.bytes_done)} read` : ''];
    if (!b.size_bytes) return [''];
    if (!b.snapshot) return [size(b.size_bytes)];
    return [size(b.size_bytes), el('span', { class: 'muted added', title: 'stored in the repository by this backup; the rest was deduplicated' },
      `+${size(b.added_bytes || 0)} added`)];
  }

  archiveCell(b) {
    if (b.origin === 'webhook') {
      return el('td', { class: 'muted' }, b.archive ? el('span', { title: b.archive }, 'at sender') : '');
    }
    if (b.status === 'succeeded' && !b.archive) {
      return el('td', { class: 'muted' }, el('span', { title: "Removed by the source's retention (keep); the record stays" }, 'expired'));
    }
    if (b.status !== 'succeeded') return el('td');
    const a = el('a', { href: archiveURL(b.id), download: b.archive, class: 'download' },
      'Download', hidden(` backup ${b.id} of ${b.source}`));
    a.addEventListener('click', (e) => this.onDownload(e, b));
    return el('td', {}, a);
  }

  tick() {
    for (const b of this.byId.values()) {
      if (b.status === 'running') {
        const cell = this.row(b.id)?.querySelector('.duration');
        if (cell) cell.textContent = elapsed(b);
      }
    }
  }

  update() {
    const n = this.tbody.rows.length;
    this.empty.hidden = n > 0;
    const f = [this.filters.source, this.filters.status].filter(Boolean).join(', ');
    this.caption.textContent = `Backups, newest first${f ? ` (${f})` : ''}: ${n} shown${this.next ? ', older ones below' : ''}`;
  }

  /** sources lists the source names of the rows shown. */
  sources() {
    return new Set([...this.byId.values()].map((b) => b.source));
  }
}

function statusCell(b) {
  const td = el('td', { class: 'status' },
    el('span', { class: `badge s-${b.status}` }, b.status));
  if (b.error) td.append(el('span', { class: 'error-text' }, b.error));
  else if (b.verify_status) td.append(el('span', { class: 'muted' }, `verify: ${b.verify_status}`));
  return td;
}
