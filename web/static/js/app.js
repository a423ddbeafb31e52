// The dashboard: wires the REST API, the WebSocket and the page together.

import { api, APIError, download, token } from './api.js';
import { askToken } from './auth.js';
import { Catalog } from './catalog.js';
import { el } from './format.js';
import { Live } from './live.js';
import { EventLog } from './log.js';
import { Sources } from './sources.js';

const $ = (id) => document.getElementById(id);

const log = new EventLog($('log'));
const catalog = new Catalog({ table: $('catalog'), empty: $('catalog-empty'), older: $('older'), onDownload });
const sources = new Sources({ list: $('sources'), onRun: run });
const filters = $('filters');
const live = new Live({
  url: () => {
    const u = new URL('/api/v1/ws', location.href);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    if (token()) u.searchParams.set('token', token());
    return u.href;
  },
  onEvent,
  onWelcome: (fresh, head) => {
    // Without since, events before the welcome were not sent: reload, and
    // show in the log what happened before the page opened.
    if (fresh) {
      guard(refresh());
      guard(log.history(head));
    }
  },
  onState: setConn,
  onError: (text) => showError(text),
});

log.self = () => live.clientId;

function onEvent(ev) {
  log.event(ev);
  if (ev.type === 'backup.progress') {
    catalog.progress(ev.data);
    sources.backup({ ...ev.data, origin: 'local', status: 'running' });
  } else if (ev.type === 'backup.expired' && ev.data && ev.data.id) {
    // The server leaves out an empty archive name; the row must drop its link.
    catalog.upsert({ ...ev.data, archive: '' });
  } else if (ev.type !== 'message' && ev.data && ev.data.id) {
    catalog.upsert(ev.data);
    sources.backup(ev.data);
    addSourceOption(ev.data.source);
    // The server knows what the event does not: the next run once a
    // scheduled backup was queued, whether a source is still overdue.
    if (ev.type !== 'backup.started') reloadSourcesSoon();
  }
}

let reloadTimer = 0;
function reloadSourcesSoon(delay = 1000) {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => guard(sources.load()), delay);
}
// Time passes without events: "2h ago" grows, and a source can become
// overdue, which only the server can tell.
setInterval(() => sources.tick(), 30_000);
setInterval(() => {
  if (!document.hidden && live.ws) reloadSourcesSoon(0);
}, 60_000);

let lost = false; // the connection dropped and has not been live since

function setConn(state, text) {
  const c = $('conn');
  if (state === 'down' && c.dataset.state === 'live') {
    lost = true;
    log.add('conn', 'Connection lost; reconnecting');
  }
  if (state === 'live' && lost) {
    lost = false;
    log.add('conn', 'Reconnected; caught up on what was missed');
  }
  c.dataset.state = state;
  $('conn-text').textContent = text;
}

// --- errors -----------------------------------------------------------

function showError(text) {
  $('notice-text').textContent = text;
  $('notice').hidden = false;
}
$('notice-close').addEventListener('click', () => {
  $('notice').hidden = true;
});

/** guard shows a failed action's reason; a 401 asks for the token again. */
async function guard(promise) {
  try {
    return await promise;
  } catch (err) {
    if (err instanceof APIError && err.status === 401) {
      await askToken('The saved token is no longer accepted. Enter a valid one.');
      live.ws?.close();
      return guard(refresh());
    }
    showError(err.message || String(err));
  }
}

// --- actions ------------------------------------------------------------

async function run(name) {
  if (await guard(sources.run(name))) log.add('action', `Asked for a backup of ${name}`);
}

function onDownload(e, b) {
  // Without a token the link works on its own, resumable by the browser.
  if (!token()) return;
  e.preventDefault();
  guard(download(b));
}

$('message-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('message-text').value.trim() || 'Hello';
  if (!live.send({ eventType: 'message', socket_data: text })) {
    showError('Not connected to the server, so the message was not sent. It reconnects by itself; try again in a moment.');
  }
});

// --- filters, kept in the query string -----------------------------------

function readFilters() {
  const q = new URLSearchParams(location.search);
  catalog.filters = { source: q.get('source') || '', status: q.get('status') || '' };
  addSourceOption(catalog.filters.source);
  filters.source.value = catalog.filters.source;
  filters.status.value = catalog.filters.status;
}

function addSourceOption(name) {
  const sel = filters.source;
  if (!name || [...sel.options].some((o) => o.value === name)) return;
  sel.append(el('option', { value: name }, name));
}

filters.addEventListener('change', () => {
  const q = new URLSearchParams();
  for (const k of ['source', 'status']) if (filters[k].value) q.set(k, filters[k].value);
  history.pushState(null, '', q.size ? `?${q}` : location.pathname);
  readFilters();
  guard(catalog.reload());
});
window.addEventListener('popstate', () => {
  readFilters();
  guard(catalog.reload());
});

// --- start ----------------------------------------------------------------

/**
 * applyScopes hides what the token may not do: the Run buttons without the
 * run scope, the Download links without download (the server would refuse
 * them with 403 anyway). Classes on <body>; style.css does the hiding.
 */
async function applyScopes() {
  const who = await api('/auth');
  const has = (s) => who.scopes.includes(s) || who.scopes.includes('admin');
  document.body.classList.toggle('no-run', !has('run'));
  document.body.classList.toggle('no-download', !has('download'));
  document.body.dataset.scopes = who.scopes.join(' ');
}

async function refresh() {
  await Promise.all([applyScopes(), sources.load(), catalog.reload()]);
  for (const n of [...sources.names(), ...catalog.sources()]) addSourceOption(n);
  readFilters();
}

async function start() {
  readFilters();
  try {
    await refresh();
  } catch (err) {
    if (!(err instanceof APIError && err.status === 401)) {
      showError(err.message);
    } else {
      await askToken(token() ? 'The saved token is no longer accepted. Enter a valid one.' : '');
      await guard(refresh());
    }
  }
  live.connect();
}

start();
