// Formatting of sizes, times and durations for people.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function size(n) {
  if (!n) return '0 B';
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${UNITS[i]}`;
}

// Every time shown carries its date and zone: a log or a table read the
// next morning, or by a colleague in another zone, must not mislead.
const base = { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' };
const formats = new Map();
function fmt(seconds, year) {
  const key = `${seconds}${year}`;
  if (!formats.has(key)) {
    formats.set(key, new Intl.DateTimeFormat(undefined, {
      ...base, ...(seconds ? { second: '2-digit' } : {}), ...(year ? { year: 'numeric' } : {}),
    }));
  }
  return formats.get(key);
}
const full = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });
const rel = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'narrow' });

/** time is the date, time and zone: "Mar 4, 14:05:03 UTC"; the year only when it is not this one. */
export function time(iso, { seconds = true } = {}) {
  if (!iso) return '';
  const d = new Date(iso);
  return fmt(seconds, d.getFullYear() !== new Date().getFullYear()).format(d);
}

const STEPS = [[60, 'second'], [60, 'minute'], [24, 'hour'], [7, 'day'], [4.35, 'week'], [12, 'month'], [Infinity, 'year']];

/** ago is how far iso is from now, in words: "2h ago", "in 40 min.", "now". */
export function ago(iso, now = Date.now()) {
  let v = (Date.parse(iso) - now) / 1000;
  for (const [n, unit] of STEPS) {
    // Switch units a little early: "45 min ago" reads better than "0 h".
    if (Math.abs(v) < n * 0.9 || n === Infinity) {
      return rel.format(Math.round(v), unit);
    }
    v /= n;
  }
  return '';
}

/** timeEl is a <time> with the date, time and zone, the full form on hover. */
export const timeEl = (iso, opts) => (iso
  ? el('time', { datetime: iso, title: `${full.format(new Date(iso))} (${ago(iso)})` }, time(iso, opts))
  : '');

/** agoEl is a <time> saying how long ago (or until), the full form on hover. */
export const agoEl = (iso) => (iso
  ? el('time', { datetime: iso, title: full.format(new Date(iso)), class: 'ago' }, ago(iso))
  : '');

export function duration(ms) {
  if (ms < 0 || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** elapsed is a backup's run time so far, or in total once it ended. */
export function elapsed(b, now = Date.now()) {
  if (!b.started_at) return '';
  const end = b.finished_at ? Date.parse(b.finished_at) : now;
  return duration(end - Date.parse(b.started_at));
}

/** el builds an element: el('td', {class: 'x'}, 'text', child). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...children.filter((c) => c !== undefined && c !== null && c !== ''));
  return e;
}

export const hidden = (text) => el('span', { class: 'visually-hidden' }, text);
