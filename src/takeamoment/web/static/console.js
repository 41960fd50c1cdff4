// The host console: a board per channel, driven through the JSON API (session cookie + CSRF
// header, see api.js) and kept current by the event's live stream.

import { api, explain, ApiError } from "./api.js";
import { logChange } from "./changelog.js";
import { ask } from "./dialog.js";
import { readinessBlock } from "./readiness.js";
import { EventStream, showConnection } from "./stream.js";
import { SlotStore, fillSlot, h, place, slotElement, timeElement } from "./slots.js";
import "./times.js";

const slug = document.body.dataset.event;
const board = document.querySelector(".board");
const changeLog = document.getElementById("change-log");
const noticeBox = document.getElementById("notice");
const errorBox = document.getElementById("error");
const store = new SlotStore();
const pending = new Set(); // slots with a request in flight: no double clicks
const RECENT_CHANGES = 30;
const READINESS_EVERY_MS = 15_000; // who is connected changes without a schedule change
let readiness = null;
let readinessTimer = null;

function tell(text) {
  errorBox.hidden = true;
  noticeBox.textContent = text;
}

function fail(error) {
  noticeBox.textContent = "";
  const parts = [explain(error)];
  if (error instanceof ApiError && error.status === 401) {
    const next = encodeURIComponent(location.pathname);
    parts.push(" ", h("a", { href: `/host/login?next=${next}` }, "Sign in again"));
  }
  errorBox.replaceChildren(...parts);
  errorBox.hidden = false;
}

function titleOf(slotId) {
  const slot = store.get(slotId);
  return slot ? `“${slot.title}”` : "the slot";
}

function showReadiness(element, slot) {
  if (readiness === null) return;
  const block = element.querySelector('[data-field="readiness"]');
  block.replaceChildren(...readinessBlock(readiness.get(slot.id), slot));
}

function showSlot(slot) {
  const element = slotElement(slot);
  fillSlot(element, slot);
  showReadiness(element, slot);
  if (!place(element, slot.channel)) tell("The event has a new channel: reload the page to see it.");
}

/** Apply a slot from an API answer unless the stream already brought a newer version. */
function putAnswer(slot) {
  const current = store.get(slot.id);
  if (current && current.sequence > slot.sequence) return;
  store.put(slot);
  showSlot(slot);
}

async function refreshReadiness() {
  try {
    const rows = await api(`/api/events/${encodeURIComponent(slug)}/readiness`);
    readiness = new Map(rows.map((row) => [row.id, row]));
    for (const slot of store.slots.values()) showSlot(slot);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) fail(error);
  }
}

function readinessSoon() {
  clearTimeout(readinessTimer);
  readinessTimer = setTimeout(refreshReadiness, 250);
}

const VERBS = {
  live: { path: "live", done: (t) => `${t} is live.` },
  end: { path: "end", done: (t) => `${t} has ended.` },
  cancel: { path: "cancel", done: (t) => `${t} is cancelled; its people were told.` },
};

async function run(slotId, work) {
  if (pending.has(slotId)) return;
  pending.add(slotId);
  try {
    await work();
  } catch (error) {
    fail(error);
  } finally {
    pending.delete(slotId);
  }
}

function changeStatus(slotId, action) {
  return run(slotId, async () => {
    const slot = await api(`/api/slots/${encodeURIComponent(slotId)}/${VERBS[action].path}`, { method: "POST" });
    putAnswer(slot);
    tell(VERBS[action].done(`“${slot.title}”`));
  });
}

async function confirmCancel(slotId) {
  const { confirmed } = await ask({
    heading: `Cancel ${titleOf(slotId)}?`,
    content: [h("p", {}, "It stays in the schedule as cancelled, and everyone booked on it is released and told. This cannot be undone.")],
    confirmLabel: "Cancel the slot",
    cancelLabel: "Keep it",
  });
  if (confirmed) await changeStatus(slotId, "cancel");
  else tell("Nothing changed.");
}

function moveLine(move) {
  return h("li", {},
    h("strong", {}, titleOf(move.id)), ": ",
    timeElement(move.previous_starts_at), "–", timeElement(move.previous_ends_at),
    h("span", { "aria-hidden": "true" }, " → "), h("span", { class: "visually-hidden" }, " moves to "),
    timeElement(move.starts_at), "–", timeElement(move.ends_at));
}

function previewContent(preview) {
  const content = [
    h("p", {}, `${preview.moved.length === 1 ? "One slot moves" : `${preview.moved.length} slots move`}:`),
    h("ul", { class: "moves", "data-preview": "moves" }, preview.moved.map(moveLine)),
  ];
  if (preview.conflicts.length) {
    content.push(
      h("p", { class: "warn-text" }, "Some booked people could not follow:"),
      h("ul", { class: "conflicts", "data-preview": "conflicts" },
        preview.conflicts.map((conflict) => h("li", {}, conflict.message || conflict.kind))));
  } else {
    content.push(h("p", {}, "Everyone booked can follow the new times."));
  }
  content.push(h("p", { class: "quiet" }, "Nothing has changed yet."));
  return content;
}

function delay(slotId, minutes) {
  return run(slotId, async () => {
    const path = `/api/slots/${encodeURIComponent(slotId)}/delay`;
    const preview = await api(path, { method: "POST", body: { minutes, cascade: true, dry_run: true } });
    const answer = await ask({
      heading: `Running late: ${titleOf(slotId)} by ${minutes} min`,
      content: previewContent(preview),
      confirmLabel: "Apply the delay",
      cancelLabel: "Keep the schedule as it is",
      needsForce: preview.conflicts.length > 0,
    });
    if (!answer.confirmed) {
      tell("Nothing changed: the delay was not applied.");
      return;
    }
    const body = { minutes, cascade: true, dry_run: false, force: answer.force };
    const result = await api(path, { method: "POST", body });
    const released = result.released.length
      ? ` ${result.released.length} booking(s) were released.` : "";
    tell(`${titleOf(slotId)} is ${minutes} min later; ${result.moved.length} slot(s) moved.${released}`);
  });
}

function slotIdOf(element) {
  return element.closest("[data-slot]").id.replace(/^slot-/, "");
}

board.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const slotId = slotIdOf(button);
  const { action } = button.dataset;
  if (action === "delay") delay(slotId, Number(button.dataset.minutes));
  else if (action === "cancel") confirmCancel(slotId);
  else changeStatus(slotId, action);
});

board.addEventListener("submit", (event) => {
  const form = event.target.closest("[data-delay-form]");
  if (!form) return;
  event.preventDefault();
  const minutes = form.elements.minutes.valueAsNumber;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) {
    fail(new Error("Enter a whole number of minutes, from 1 to 1440."));
    return;
  }
  delay(slotIdOf(form), minutes);
});

async function loadRecentChanges(seq) {
  try {
    const since = Math.max(0, seq - RECENT_CHANGES);
    const changes = await api(`/api/events/${encodeURIComponent(slug)}/changes?since=${since}`);
    changes.filter((change) => change.seq <= seq).forEach((change) => logChange(changeLog, change));
  } catch {
    // The log's history is a convenience; live changes still arrive on the stream.
  }
}

// Before the stream's snapshot (or without one: a draft has no stream), the schedule API says
// what the board holds, so readiness and actions work from the start.
async function loadSchedule(stream) {
  try {
    const schedule = await api(`/api/events/${encodeURIComponent(slug)}/schedule`);
    if (stream.seq === null) {
      store.replaceAll(schedule.slots);
      schedule.slots.forEach(showSlot);
    }
  } catch (error) {
    fail(error);
  }
}

let firstSnapshot = true;
const stream = new EventStream(slug, {
  snapshot(message) {
    store.replaceAll(message.slots);
    message.slots.forEach(showSlot);
    if (firstSnapshot) loadRecentChanges(message.seq);
    firstSnapshot = false;
    readinessSoon();
  },
  change(message) {
    if (message.type === "slot.deleted") store.remove(message.slot_id);
    if (message.slot) {
      store.put(message.slot);
      showSlot(message.slot);
    }
    logChange(changeLog, message);
    readinessSoon();
  },
  status(state, text) {
    showConnection(document.getElementById("connection"), state, text);
  },
});

stream.start();
loadSchedule(stream).then(refreshReadiness);
setInterval(refreshReadiness, READINESS_EVERY_MS);
