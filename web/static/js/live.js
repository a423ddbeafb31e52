// The WebSocket connection (protocol 2, docs/protocol.md): hello with the
// last event id seen, replay, then live; reconnect with backoff.

const CLOSE_UNSUPPORTED_PROTOCOL = 4001;
const MIN_DELAY = 500;
const MAX_DELAY = 10_000;

export class Live {
  /**
   * @param {object} o
   * @param {() => string} o.url WebSocket URL, read on every attempt (the token may change)
   * @param {(ev: object) => void} o.onEvent every event, stored or ephemeral
   * @param {(fresh: boolean, head: number) => void} o.onWelcome fresh: no since was
   *   sent, so the caller must reload what it shows; otherwise the replay fills
   *   the gap. head: the newest stored event id the server knows of
   * @param {(state: string, text: string) => void} o.onState
   * @param {(text: string) => void} o.onError
   */
  constructor(o) {
    Object.assign(this, o);
    this.lastId = null; // the newest stored event id applied
    this.attempt = 0;
    this.ws = null;
    this.timer = 0;
    // Come back at once when the network or the tab does.
    window.addEventListener('online', () => this.retryNow());
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) this.retryNow();
    });
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = 0;
    this.onState('connecting', this.attempt ? 'Reconnecting…' : 'Connecting…');
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => {
      const hello = { eventType: 'hello', protocol: 2 };
      if (this.lastId !== null) hello.since = this.lastId;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (m) => this.receive(m.data);
    ws.onclose = (e) => this.closed(ws, e);
  }

  receive(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return; // not ours to show; the server only sends JSON
    }
    switch (msg.eventType) {
      case 'welcome': {
        const fresh = this.lastId === null;
        this.clientId = msg.client_id;
        if (fresh) this.lastId = msg.head;
        this.attempt = 0;
        this.onState('live', 'Live');
        this.onWelcome(fresh, msg.head);
        break;
      }
      case 'event':
        if (!msg.ephemeral && msg.id) {
          if (msg.id <= this.lastId) return; // already applied
          this.lastId = msg.id;
        }
        this.onEvent(msg);
        break;
      case 'error':
        this.onError(msg.message || 'The server refused a message.');
        break;
    }
  }

  closed(ws, e) {
    if (ws !== this.ws) return;
    this.ws = null;
    if (e.code === CLOSE_UNSUPPORTED_PROTOCOL) {
      this.onState('down', 'Live updates unavailable');
      this.onError(`The server does not speak this page's protocol: ${e.reason || 'protocol 2 refused'}. Reload the page.`);
      return;
    }
    // Exponential backoff with jitter, so that many pages do not come back
    // in lockstep after a restart.
    const base = Math.min(MAX_DELAY, MIN_DELAY * 2 ** this.attempt);
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    this.attempt++;
    this.onState('down', `Disconnected; retrying in ${Math.ceil(delay / 1000)} s`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  retryNow() {
    if (this.timer) this.connect();
  }

  /** send sends a message if connected, and says whether it did. */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }
}
