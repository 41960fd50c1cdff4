// The editor pages' messages: a polite notice for what went well, an alert for what was refused,
// with every conflict the server named said in words.

import { ApiError, explain } from "./api.js";
import { h } from "./slots.js";

const SLOT_ID = /\b[0-9a-f]{32}\b/g;

/** Name slots the page knows by title, time and channel where a message gives only their id. */
function named(text, describeSlot) {
  return text.replace(SLOT_ID, (id) => describeSlot(id)?.label || "another slot");
}

/** The lines of a refusal: what was refused, then each conflict the server named, in words. */
export function refusalLines(error, describeSlot = () => null) {
  const conflicts = error instanceof ApiError && Array.isArray(error.extra) ? error.extra : [];
  if (!conflicts.length || conflicts.some((item) => typeof item !== "object")) {
    return [named(explain(error), describeSlot)];
  }
  const [head] = explain(error).split(":");
  const lines = [`${head.replace(/\.$/, "")}: nothing was changed.`];
  for (const item of conflicts) {
    let text = named(item.message || item.kind || "", describeSlot);
    const other = item.conflicting_slot_id && describeSlot(item.conflicting_slot_id);
    if (other && !text.includes(other.title)) text = `${text} (${other.label})`;
    if (item.loc) text = `${item.loc.join(".")}: ${text}`;
    if (text && !lines.includes(text)) lines.push(text.charAt(0).toUpperCase() + text.slice(1));
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
