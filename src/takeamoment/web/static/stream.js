// One event's live stream (/ws/events/{slug}): a snapshot, then every change in seq order.
// After a dropped connection it resumes with ?since=<last seq applied>, so nothing is missed;
// the server's close code 4008 ("too far behind") means the same. It never applies a seq twice.

const GIVE_UP = new Map([
  [4403, "Live updates are not allowed from this page's address."],
  [4404, "Live updates start once the event is published."],
  [4400, "Live updates could not start (bad request)."],
]);
const TOO_FAR_BEHIND = 4008;
const RESYNC = 4000; // ours: a hole in the seqs, so reconnect and resume from what we have
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 4000;

export class EventStream {
  /**
   * @param {string} slug the event
   * @param {{snapshot: Function, change: Function, status: Function}} handlers
   *   status(state, text) with state "connecting" | "live" | "reconnecting" | "stopped"
   */
  constructor(slug, handlers) {
    this.slug = slug;
    this.handlers = handlers;
    this.seq = null; // the last seq applied; null until the first snapshot
    this.failures = 0;
    this.socket = null;
  }

  start() {
    this.connect();
    // A phone waking up or a laptop back online: do not wait for the backoff to run out.
    window.addEventListener("online", () => this.retryNow());
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const path = `/ws/events/${encodeURIComponent(this.slug)}`;
    return `${scheme}//${location.host}${path}${this.seq === null ? "" : `?since=${this.seq}`}`;
  }

  connect() {
    clearTimeout(this.timer);
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.failures = 0;
      this.handlers.status("live", "Live updates on");
    });
    socket.addEventListener("message", (event) => this.receive(socket, JSON.parse(event.data)));
    socket.addEventListener("close", (event) => this.closed(socket, event));
  }

  receive(socket, message) {
    if (socket !== this.socket) return;
    if (message.type === "snapshot") {
      this.seq = message.seq;
      this.handlers.snapshot(message);
      return;
    }
    if (this.seq !== null && message.seq <= this.seq) return; // already applied
    if (this.seq === null || message.seq !== this.seq + 1) {
      socket.close(RESYNC, "missing changes"); // resume from the last seq we really applied
      return;
    }
    this.seq = message.seq;
    this.handlers.change(message);
  }

  closed(socket, event) {
    if (socket !== this.socket) return;
    if (GIVE_UP.has(event.code)) {
      this.handlers.status("stopped", GIVE_UP.get(event.code));
      return;
    }
    this.handlers.status("reconnecting", "Reconnecting…");
    const immediate = event.code === TOO_FAR_BEHIND || event.code === RESYNC;
    const backoff = Math.min(FIRST_RETRY_MS * 2 ** this.failures, MAX_RETRY_MS);
    this.failures += 1;
    this.timer = setTimeout(() => this.connect(), immediate ? 0 : backoff + Math.random() * 250);
  }

  retryNow() {
    if (this.socket && this.socket.readyState === WebSocket.CLOSED) this.connect();
  }
}

/** Show the stream's state in a role="status" element (its data-state drives the styling). */
export function showConnection(element, state, text) {
  element.dataset.state = state;
  element.textContent = text;
}
