// REST calls to /api/v1 with the bearer token, and errors a person can read.

const TOKEN_KEY = 'backupd.token';

/** APIError carries the problem+json detail as its message. */
export class APIError extends Error {
  constructor(message, status = 0, code = '') {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The token lives in sessionStorage: it survives a reload, not the tab.
export const token = () => sessionStorage.getItem(TOKEN_KEY) || '';

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(tok = token()) {
  const h = { Accept: 'application/json, application/problem+json' };
  if (tok) h.Authorization = `Bearer ${tok}`;
  return h;
}

/** api calls the REST API and returns the decoded JSON, or throws APIError. */
export async function api(path, { method = 'GET', body, tok } = {}) {
  const init = { method, headers: headers(tok) };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(`/api/v1${path}`, init);
  } catch {
    throw new APIError('The server cannot be reached. Is backupd running?');
  }
  if (!resp.ok) throw await problem(resp);
  return resp.status === 204 ? null : resp.json();
}

/** problem turns an error response into an APIError with its detail. */
export async function problem(resp) {
  let p = {};
  try {
    p = await resp.json();
  } catch {
    // Not problem+json (a proxy's HTML page, say): fall back to the status.
  }
  const msg = p.detail || `The server answered ${resp.status} ${resp.statusText || p.title || ''}.`.trim();
  return new APIError(msg, resp.status, p.code || '');
}

export const archiveURL = (id) => `/api/v1/backups/${id}/archive`;

/**
 * download saves a backup's archive. A plain link cannot send the
 * Authorization header, so with a token the page asks for a short-lived
 * download link to that one archive and follows it: the browser then
 * streams the archive to disk, and can resume it, as it does without a
 * token.
 */
export async function download(b) {
  const link = await api(`/backups/${b.id}/archive/link`, { method: 'POST' });
  const a = document.createElement('a');
  a.href = link.url;
  a.download = b.archive || `backup-${b.id}.tar.zst`;
  document.body.append(a);
  a.click();
  a.remove();
}
