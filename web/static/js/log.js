// The event log: what happened, newest first, announced politely.

import { api } from './api.js';
import { el, size, timeEl } from './format.js';

const KEEP = 200;
export const HISTORY = 100; // stored events shown from before the page opened

export class EventLog {
  constructor(list) {
    this.list = list;
    this.self = () => ''; // this page's client id, to name its own messages
    this.ids = new Set(); // stored event ids shown, so none shows twice
  }

  entry(kind, text, at, id) {
    return el('li', { class: `entry k-${kind}`, 'data-kind': kind, 'data-id': id || undefined },
      timeEl(at), ' ', el('span', {}, text));
  }

  add(kind, text, at = new Date().toISOString(), id = 0) {
    this.list.prepend(this.entry(kind, text, at, id));
    this.trim();
  }

  trim() {
    while (this.list.children.length > KEEP) {
      this.ids.delete(Number(this.list.lastElementChild.dataset.id));
      this.list.lastElementChild.remove();
    }
  }

  /** event logs a hub event; progress ticks are shown in the table instead. */
  event(ev) {
    if (ev.type === 'backup.progress') return;
    if (ev.type === 'message') {
      const d = ev.data || {};
      const text = typeof d.text === 'string' ? d.text : JSON.stringify(d.text);
      const from = d.id && d.id === this.self() ? 'this page' : `client ${String(d.id || '?').slice(0, 8)}`;
      this.add('message', `Message from ${from}: ${text}`, ev.time);
      return;
    }
    if (ev.id && this.ids.has(ev.id)) return;
    if (ev.id) this.ids.add(ev.id);
    this.add('event', describe(ev), ev.time, ev.id);
  }

  /**
   * history shows the stored events up to head (the welcome's), which
   * happened before the page connected, below everything logged since:
   * the live stream starts after head, so nothing shows twice.
   */
  async history(head) {
    if (!head) return;
    const since = Math.max(0, head - HISTORY);
    const { events } = await api(`/events?since=${since}&limit=${HISTORY}`);
    const older = events.filter((ev) => ev.id <= head && !this.ids.has(ev.id)).reverse();
    for (const ev of older) {
      this.ids.add(ev.id);
      this.list.append(this.entry('event', describe(ev), ev.time, ev.id));
    }
    this.trim();
  }
}

function describe(ev) {
  const b = ev.data || {};
  const what = `#${b.id ?? ev.backup_id} ${b.source ?? ev.source ?? ''}`.trim();
  switch (ev.type) {
    case 'backup.queued': return `${what} queued`;
    case 'backup.started': return `${what} started`;
    case 'backup.succeeded': return `${what} succeeded (${size(b.size_bytes)})`;
    case 'backup.failed': return `${what} failed${b.error ? `: ${b.error}` : ''}`;
    case 'backup.canceled': return `${what} canceled`;
    case 'backup.verified': return `${what} restore drill: ${b.verify_status || 'done'}`;
    case 'backup.expired': return `${what}: archive removed by retention`;
    case 'report.received': return `${what} reported by webhook: ${b.status}${b.message ? ` (${b.message})` : ''}`;
    default: return `${what} ${ev.type}`;
  }
}
