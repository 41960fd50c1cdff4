// A person's own notices, live (/ws/me with the page's session cookie): every notification
// after the last seq the page has, in order. After a dropped connection it resumes with
// ?since=<last seq>, so none is missed or shown twice.

const GIVE_UP = new Map([
  [4401, "Your session has ended: open a new sign-in link from your host."],
  [4403, "Live notices are not allowed from this page's address."],
]);
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 8000;

export class NoticeStream {
  /**
   * @param {number} since the seq of the newest notice the page already shows
   * @param {{notice: Function, status: Function}} handlers status(state, text), as stream.js
   */
  constructor(since, handlers) {
    this.seq = since;
    this.handlers = handlers;
    this.failures = 0;
    this.socket = null;
  }

  start() {
    this.connect();
    window.addEventListener("online", () => {
      if (this.socket && this.socket.readyState === WebSocket.CLOSED) this.connect();
    });
  }

  connect() {
    clearTimeout(this.timer);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws/me?since=${this.seq}`);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.failures = 0;
      this.handlers.status("live", "Live: new notices appear here");
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (socket !== this.socket || message.type !== "notification" || message.seq <= this.seq) return;
      this.seq = message.seq;
      this.handlers.notice(message);
    });
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket) return;
      if (GIVE_UP.has(event.code)) {
        this.handlers.status("stopped", GIVE_UP.get(event.code));
        return;
      }
      this.handlers.status("reconnecting", "Reconnecting…");
      const backoff = Math.min(FIRST_RETRY_MS * 2 ** this.failures, MAX_RETRY_MS);
      this.failures += 1;
      this.timer = setTimeout(() => this.connect(), backoff + Math.random() * 250);
    });
  }
}
