// A small inline chart of a source's last backups: one bar per backup for
// its size, a line through the durations. Plain SVG, built with the DOM so
// that the page's Content-Security-Policy needs no exception.

import { duration, size, time } from './format.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 150;
const H = 36;
const SLOTS = 30; // the API's history length: bars keep one width

function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

const seconds = (p) => p.duration_seconds || 0;

/**
 * trend draws history (oldest first) as an <svg>: bars right-aligned so
 * that the newest backup is always at the right edge, heights relative to
 * the largest backup shown. Failed and canceled backups are short red
 * marks: they have no size.
 */
export function trend(history) {
  const points = history.slice(-SLOTS);
  const slot = W / SLOTS;
  const maxSize = Math.max(1, ...points.map((p) => p.size_bytes));
  const maxDur = Math.max(0.001, ...points.map(seconds));
  const top = 3;
  const chart = svg('svg', {
    class: 'trend', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': describe(points),
  });
  chart.append(svg('line', { class: 'axis', x1: 0, x2: W, y1: H - 0.5, y2: H - 0.5 }));
  const x0 = W - points.length * slot;
  const line = [];
  points.forEach((p, i) => {
    const x = x0 + i * slot;
    const ok = p.status === 'succeeded';
    const h = ok ? Math.max(1.5, (p.size_bytes / maxSize) * (H - top - 1)) : 4;
    const bar = svg('rect', {
      class: `bar s-${p.status}`, x: (x + 0.75).toFixed(2), y: (H - 1 - h).toFixed(2),
      width: (slot - 1.5).toFixed(2), height: h.toFixed(2), 'data-id': p.id, 'data-size': p.size_bytes,
    }, svg('title', {}, label(p)));
    chart.append(bar);
    if (ok) line.push(`${(x + slot / 2).toFixed(2)},${(H - 1 - (seconds(p) / maxDur) * (H - top - 1)).toFixed(2)}`);
  });
  if (line.length > 1) chart.append(svg('polyline', { class: 'dur', points: line.join(' ') }));
  for (const pt of line) {
    const [cx, cy] = pt.split(',');
    chart.append(svg('circle', { class: 'dur-dot', cx, cy, r: 1.6 }));
  }
  return chart;
}

function label(p) {
  const parts = [`#${p.id} ${p.status}`];
  if (p.status === 'succeeded') parts.push(size(p.size_bytes));
  if (p.duration_seconds) parts.push(duration(p.duration_seconds * 1000));
  if (p.finished_at) parts.push(time(p.finished_at, { seconds: false }));
  return parts.join(' · ');
}

/** describe says in words what the chart shows, for screen readers. */
function describe(points) {
  const ok = points.filter((p) => p.status === 'succeeded');
  if (!points.length) return 'No finished backups yet';
  const range = (vals, f) => {
    const lo = Math.min(...vals);
    const hi = Math.max(...vals);
    return lo === hi ? f(lo) : `${f(lo)} to ${f(hi)}`;
  };
  let text = `Last ${points.length} finished backups, ${points.length - ok.length} not succeeded`;
  if (ok.length) {
    text += `; sizes ${range(ok.map((p) => p.size_bytes), size)}, newest ${size(ok.at(-1).size_bytes)}`;
    text += `; durations ${range(ok.map((p) => seconds(p) * 1000), duration)}`;
  }
  return text;
}
