// The event log: what happened, newest first, announced politely.

import { el, size, timeEl } from './format.js';

const KEEP = 200;

export class EventLog {
  constructor(list) {
    this.list = list;
    this.self = () => ''; // this page's client id, to name its own messages
  }

  add(kind, text, at = new Date().toISOString()) {
    const li = el('li', { class: `entry k-${kind}`, 'data-kind': kind },
      timeEl(at), ' ', el('span', {}, text));
    this.list.prepend(li);
    while (this.list.children.length > KEEP) this.list.lastElementChild.remove();
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
    this.add('event', describe(ev), ev.time);
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
