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
const followUp = document.getElementById("follow-up");
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

function post(slotId, verb, body) {
  return api(`/api/slots/${encodeURIComponent(slotId)}/${verb}`, { method: "POST", body });
}

/** The kind of a 409 refusal (too_early, stale_preview, ...), or null. */
function refusal(error) {
  if (!(error instanceof ApiError) || error.status !== 409 || !Array.isArray(error.extra)) return null;
  return error.extra[0] ? error.extra[0].kind : null;
}

/** The slot up next on `slot`'s channel, as the viewer page and `watch` show it. */
function nextOnChannel(slot) {
  const { next } = store.nowAndNext(slot.channel);
  return next && next.id !== slot.id ? next : null;
}

function para(text) {
  return h("p", {}, text);
}

// What each state change asks before anything happens, and says once done.
const QUESTIONS = {
  live: (t) => ({
    heading: `Go live with ${t}?`,
    content: [para("It goes on air now, and its people are told they are on.")],
    confirmLabel: "Go live",
    cancelLabel: "Not yet",
  }),
  end: (t) => ({
    heading: `End ${t}?`,
    content: [para("It goes off air now. If that is a mistake, you can reopen it within 15 minutes.")],
    confirmLabel: "End it",
    cancelLabel: "Keep it on air",
  }),
  cancel: (t) => ({
    heading: `Cancel ${t}?`,
    content: [para("It stays in the schedule as cancelled, and everyone booked on it is released and told. You can restore it later if its time is still free.")],
    confirmLabel: "Cancel the slot",
    cancelLabel: "Keep it",
  }),
  reopen: (t) => ({
    heading: `Put ${t} back on air?`,
    content: [para("It goes live again, with the time it had left if the channel still has it.")],
    confirmLabel: "Reopen",
    cancelLabel: "Leave it ended",
  }),
  restore: (t) => ({
    heading: `Restore ${t}?`,
    content: [para("It comes back as scheduled with the people it had; every booking rule is checked again.")],
    confirmLabel: "Restore",
    cancelLabel: "Leave it cancelled",
  }),
};
const DONE = {
  live: (t) => `${t} is live.`,
  end: (t) => `${t} has ended.`,
  cancel: (t) => `${t} is cancelled; its people were told.`,
  reopen: (t) => `${t} is live again.`,
  restore: (t) => `${t} is scheduled again; its people were told.`,
};

/** Go live, asking again before going live more than an hour early (409 too_early). */
async function goLive(slotId, early = false) {
  try {
    return await post(slotId, "live", early ? { early: true } : undefined);
  } catch (error) {
    if (early || refusal(error) !== "too_early") throw error;
    const { confirmed } = await ask({
      heading: `Go live early with ${titleOf(slotId)}?`,
      content: [para(explain(error))],
      confirmLabel: "Go live now anyway",
      cancelLabel: "Wait for its time",
    });
    if (!confirmed) return null;
    return post(slotId, "live", { early: true });
  }
}

function changeStatus(slotId, action) {
  return run(slotId, async () => {
    const before = store.get(slotId);
    const { confirmed } = await ask(QUESTIONS[action](titleOf(slotId)));
    if (!confirmed) {
      tell("Nothing changed.");
      return;
    }
    const slot = action === "live" ? await goLive(slotId) : await post(slotId, action);
    if (!slot) {
      tell("Nothing changed.");
      return;
    }
    putAnswer(slot);
    tell(DONE[action](`“${slot.title}”`));
    if (action === "end") offerPullForward(before, slot, nextOnChannel(slot));
  });
}

function endAndStartNext(slotId) {
  return run(slotId, async () => {
    const current = store.get(slotId);
    const next = current && nextOnChannel(current);
    if (!next) {
      fail(new Error(`There is no scheduled slot after ${titleOf(slotId)} on this channel.`));
      return;
    }
    const { confirmed } = await ask({
      heading: `End ${titleOf(slotId)} and start “${next.title}”?`,
      content: [para(`${titleOf(slotId)} goes off air and “${next.title}” goes live at once; its people are told they are on.`)],
      confirmLabel: "End and start next",
      cancelLabel: "Keep the schedule as it is",
    });
    if (!confirmed) {
      tell("Nothing changed.");
      return;
    }
    const ended = await post(slotId, "end");
    putAnswer(ended);
    let started;
    try {
      started = await post(next.id, "live", { early: true }); // the host just confirmed: now
    } catch (error) {
      fail(new Error(`“${ended.title}” has ended, but “${next.title}” could not go live: ${explain(error)}`));
      return;
    }
    putAnswer(started);
    tell(`“${ended.title}” has ended; “${started.title}” is live.`);
    offerPullForward(current, ended, started);
  });
}

/** After an early end, offer to win the time back: pull the rest of the channel forward. */
function offerPullForward(before, ended, next) {
  followUp.replaceChildren();
  followUp.hidden = true;
  // Only when the end gave time back to the channel (it ended after its scheduled start).
  if (!before || !next || Date.parse(ended.ends_at) >= Date.parse(before.ends_at)) return;
  const early = Math.min(1440, Math.floor((Date.parse(before.ends_at) - Date.parse(ended.ends_at)) / 60_000));
  if (early < 1) return;
  const button = h("button", { type: "button", "data-pull-forward": next.id },
    `Pull the rest forward by ${early} min`);
  button.addEventListener("click", () => {
    followUp.hidden = true;
    delay(next.id, -early);
  });
  followUp.append(para(`“${ended.title}” ended ${early} min early.`), button);
  followUp.hidden = false;
}

function moveLine(move) {
  return h("li", {},
    h("strong", {}, titleOf(move.id)), ": ",
    timeElement(move.previous_starts_at), "–", timeElement(move.previous_ends_at),
    h("span", { "aria-hidden": "true" }, " → "), h("span", { class: "visually-hidden" }, " moves to "),
    timeElement(move.starts_at), "–", timeElement(move.ends_at));
}

function previewContent(preview, stale) {
  const content = [];
  if (stale) {
    content.push(h("p", { class: "warn-text", "data-preview": "stale" },
      "The schedule changed since the preview: this is what the delay does now."));
  }
  content.push(
    para(`${preview.moved.length === 1 ? "One slot moves" : `${preview.moved.length} slots move`}:`),
    h("ul", { class: "moves", "data-preview": "moves" }, preview.moved.map(moveLine)),
  );
  if (preview.conflicts.length) {
    content.push(
      h("p", { class: "warn-text" }, "Some booked people could not follow:"),
      h("ul", { class: "conflicts", "data-preview": "conflicts" },
        preview.conflicts.map((conflict) => h("li", {}, conflict.message || conflict.kind))));
  } else {
    content.push(para("Everyone booked can follow the new times."));
  }
  content.push(h("p", { class: "quiet" }, "Nothing has changed yet."));
  return content;
}

function delayHeading(slotId, minutes) {
  return minutes > 0
    ? `Running late: ${titleOf(slotId)} by ${minutes} min`
    : `Pull forward: ${titleOf(slotId)} and the rest by up to ${-minutes} min`;
}

/** Preview, confirm, apply with the preview's seq; a stale preview is shown again. */
function delay(slotId, minutes) {
  return run(slotId, async () => {
    const path = `/api/slots/${encodeURIComponent(slotId)}/delay`;
    let preview = await api(path, { method: "POST", body: { minutes, cascade: true, dry_run: true } });
    let stale = false;
    for (;;) {
      if (!preview.moved.length) {
        tell(`Nothing can move: ${titleOf(slotId)} cannot start earlier than now or the slot before it.`);
        return;
      }
      const answer = await ask({
        heading: delayHeading(slotId, minutes),
        content: previewContent(preview, stale),
        confirmLabel: minutes > 0 ? "Apply the delay" : "Pull forward",
        cancelLabel: "Keep the schedule as it is",
        needsForce: preview.conflicts.length > 0,
      });
      if (!answer.confirmed) {
        tell("Nothing changed: the delay was not applied.");
        return;
      }
      const body = { minutes, cascade: true, dry_run: false, force: answer.force, seq: preview.seq };
      try {
        const result = await api(path, { method: "POST", body });
        const released = result.released.length
          ? ` ${result.released.length} booking(s) were released.` : "";
        const how = minutes > 0 ? `${minutes} min later` : "pulled forward";
        tell(`${titleOf(slotId)} is ${how}; ${result.moved.length} slot(s) moved.${released}`);
        return;
      } catch (error) {
        if (refusal(error) !== "stale_preview") throw error;
        preview = error.extra[0].preview;
        stale = true;
      }
    }
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
  else if (action === "end-next") endAndStartNext(slotId);
  else changeStatus(slotId, action);
});

board.addEventListener("submit", (event) => {
  const form = event.target.closest("[data-delay-form]");
  if (!form) return;
  event.preventDefault();
  const minutes = form.elements.minutes.valueAsNumber;
  if (!Number.isInteger(minutes) || minutes === 0 || Math.abs(minutes) > 1440) {
    fail(new Error("Enter a whole number of minutes from 1 to 1440, or from -1 to -1440 to pull forward."));
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
setInterval(() => {
  refreshReadiness(); // redraws every slot too: "Starting soon" follows the clock
}, READINESS_EVERY_MS);
