// The editor pages' messages: a polite notice for what went well, an alert for what was refused,
// with every conflict the server named said in words.

import { ApiError, explain } from "./api.js";
import { h } from "./slots.js";

/** The lines of a refusal: the server's detail, then each conflict's message. */
export function refusalLines(error, describeSlot = () => null) {
  const lines = [explain(error)];
  if (error instanceof ApiError && Array.isArray(error.extra)) {
    for (const item of error.extra) {
      let text = item.message || item.kind || "";
      const other = item.conflicting_slot_id && describeSlot(item.conflicting_slot_id);
      if (other && !text.includes(other.title)) text = `${text} (${other.label})`;
      if (item.loc) text = `${item.loc.join(".")}: ${text}`;
      if (text && !lines.includes(text)) lines.push(text);
    }
  }
  return lines;
}

export class Messages {
  constructor(notice = document.getElementById("notice"), error = document.getElementById("error")) {
    this.noticeBox = notice;
    this.errorBox = error;
  }

  tell(text) {
    this.errorBox.hidden = true;
    this.noticeBox.textContent = text;
  }

  fail(error, describeSlot) {
    this.noticeBox.textContent = "";
    showError(this.errorBox, error, describeSlot);
  }
}

/** Show a refusal in an alert box: one line, or a heading line and a list. */
export function showError(box, error, describeSlot) {
  const [first, ...rest] = refusalLines(error, describeSlot);
  const parts = [h("p", {}, first)];
  if (rest.length) parts.push(h("ul", {}, rest.map((line) => h("li", {}, line))));
  if (error instanceof ApiError && error.status === 401) {
    parts.push(h("p", {}, h("a", { href: `/host/login?next=${encodeURIComponent(location.pathname)}` }, "Sign in again")));
  }
  box.replaceChildren(...parts);
  box.hidden = false;
}

export function clearError(box) {
  box.hidden = true;
  box.replaceChildren();
}
