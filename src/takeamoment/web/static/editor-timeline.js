// The schedule as a timeline: one lane per channel, time running down, in the event's zone.
// A slot is a button: drag it to move it, drag its lower edge to change its end (5-minute
// steps), or use the arrow keys. Nothing moves until the server has agreed (editor.js).

import { h } from "./slots.js";
import { clock } from "./zoned.js";

export const PX_PER_MINUTE = 2;
const STEP_MINUTES = 5;
const MINUTE = 60_000;
const DRAG_THRESHOLD_PX = 4;
export const MOVABLE = new Set(["scheduled"]);

/** Who is on the slot, in words: "Maya Okafor, Sam Rivera (invited)". */
export function peopleSummary(slot) {
  const bookings = slot.bookings || [];
  if (!bookings.length) return "No one booked";
  return bookings.map((b) => (b.status === "invited" ? `${b.person.name} (invited)` : b.person.name)).join(", ");
}

function slotButton(slot, range, zone) {
  const starts = Date.parse(slot.starts_at);
  const ends = Date.parse(slot.ends_at);
  const top = Math.max(0, (starts - range.start) / MINUTE) * PX_PER_MINUTE;
  const bottom = Math.min(range.end - range.start, ends - range.start) / MINUTE * PX_PER_MINUTE;
  const span = `${clock(slot.starts_at, zone)}–${clock(slot.ends_at, zone)}`;
  const status = slot.status === "scheduled" ? "" : ` · ${slot.status}`;
  const button = h("button", {
    type: "button",
    class: "tl-slot",
    "data-slot-id": slot.id,
    "data-status": slot.status,
    "aria-describedby": "timeline-help",
    "aria-label": `${slot.title}, ${span}, ${slot.channel_name}${status}. ${peopleSummary(slot)}`,
  },
  h("span", { class: "tl-line" },
    h("span", { class: "tl-time", "data-tl-time": "" }, span + status), " ",
    h("span", { class: "tl-title" }, slot.title)),
  h("span", { class: "tl-people" }, peopleSummary(slot)),
  slot.status === "scheduled" || slot.status === "live" ? h("span", { class: "tl-resize", "aria-hidden": "true" }) : null);
  button.style.top = `${top}px`;
  button.style.height = `${Math.max(bottom - top, 16)}px`;
  return button;
}

/** Draw the timeline for one day's range ({start, end} in ms). */
export function renderTimeline(container, { channels, slots, range, zone }) {
  const focused = document.activeElement?.dataset?.slotId;
  const height = ((range.end - range.start) / MINUTE) * PX_PER_MINUTE;
  const children = [h("div", { class: "tl-corner", "aria-hidden": "true" })];
  for (const channel of channels) children.push(h("div", { class: "tl-head" }, channel.name));
  const gutter = h("div", { class: "tl-gutter", "aria-hidden": "true" });
  const firstHour = Math.ceil(range.start / (60 * MINUTE)) * 60 * MINUTE;
  for (let t = firstHour; t <= range.end; t += 60 * MINUTE) {
    const label = h("span", { class: "tl-hour" }, clock(new Date(t).toISOString(), zone));
    label.style.top = `${((t - range.start) / MINUTE) * PX_PER_MINUTE}px`;
    gutter.append(label);
  }
  gutter.style.height = `${height}px`;
  children.push(gutter);
  for (const channel of channels) {
    const lane = h("div", { class: "tl-lane", role: "group", "aria-label": channel.name, "data-lane": channel.slug });
    lane.style.height = `${height}px`;
    lane.style.backgroundSize = `100% ${60 * PX_PER_MINUTE}px`;
    lane.style.backgroundPositionY = `${((firstHour - range.start) / MINUTE) * PX_PER_MINUTE}px`;
    for (const slot of slots) {
      if (slot.channel !== channel.slug) continue;
      if (Date.parse(slot.ends_at) <= range.start || Date.parse(slot.starts_at) >= range.end) continue;
      lane.append(slotButton(slot, range, zone));
    }
    children.push(lane);
  }
  container.replaceChildren(...children);
  container.style.gridTemplateColumns = `4rem repeat(${Math.max(channels.length, 1)}, minmax(10rem, 1fr))`;
  if (focused) container.querySelector(`[data-slot-id="${CSS.escape(focused)}"]`)?.focus();
}

const snap = (minutes) => Math.round(minutes / STEP_MINUTES) * STEP_MINUTES;

/**
 * Wire the timeline's gestures once. handlers: slot(id) → the slot; range() → the day's range;
 * zone() → the event's zone; open(id); create(channelSlug, startsIso);
 * move(id, startsIso, endsIso) → a promise that settles when the server has answered.
 */
export function setUpTimeline(container, handlers) {
  let drag = null;
  let swallowClick = false;

  container.addEventListener("pointerdown", (event) => {
    const button = event.target.closest(".tl-slot");
    if (!button || event.button !== 0) return;
    const slot = handlers.slot(button.dataset.slotId);
    const resize = Boolean(event.target.closest(".tl-resize"));
    if (!slot || !(MOVABLE.has(slot.status) || (resize && slot.status === "live"))) return;
    drag = { button, slot, resize, y: event.clientY, top: button.offsetTop, height: button.offsetHeight, minutes: 0, moved: false };
    button.setPointerCapture(event.pointerId);
  });

  container.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const dy = event.clientY - drag.y;
    if (!drag.moved && Math.abs(dy) < DRAG_THRESHOLD_PX) return;
    drag.moved = true;
    drag.minutes = snap(dy / PX_PER_MINUTE);
    const duration = (Date.parse(drag.slot.ends_at) - Date.parse(drag.slot.starts_at)) / MINUTE;
    if (drag.resize) drag.minutes = Math.max(drag.minutes, STEP_MINUTES - duration);
    const shift = drag.minutes * PX_PER_MINUTE;
    if (drag.resize) drag.button.style.height = `${drag.height + shift}px`;
    else drag.button.style.top = `${drag.top + shift}px`;
    drag.button.classList.add("dragging");
    const [starts, ends] = shifted(drag.slot, drag.minutes, drag.resize);
    drag.button.querySelector("[data-tl-time]").textContent = `${clock(starts, handlers.zone())}–${clock(ends, handlers.zone())}`;
  });

  const finish = (event) => {
    if (!drag) return;
    const done = drag;
    drag = null;
    done.button.releasePointerCapture?.(event.pointerId);
    done.button.classList.remove("dragging");
    if (!done.moved) return;
    swallowClick = true;
    if (done.minutes === 0) {
      handlers.redraw();
      return;
    }
    const [starts, ends] = shifted(done.slot, done.minutes, done.resize);
    handlers.move(done.slot.id, starts, ends);
  };
  container.addEventListener("pointerup", finish);
  container.addEventListener("pointercancel", (event) => { finish(event); handlers.redraw(); });

  container.addEventListener("click", (event) => {
    const button = event.target.closest(".tl-slot");
    if (swallowClick) {
      swallowClick = false;
      return;
    }
    if (button) {
      handlers.open(button.dataset.slotId);
      return;
    }
    const lane = event.target.closest(".tl-lane");
    if (!lane) return;
    const minutes = Math.floor((event.clientY - lane.getBoundingClientRect().top) / PX_PER_MINUTE / STEP_MINUTES) * STEP_MINUTES;
    handlers.create(lane.dataset.lane, new Date(handlers.range().start + minutes * MINUTE).toISOString());
  });

  container.addEventListener("keydown", (event) => {
    const button = event.target.closest(".tl-slot");
    if (!button || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
    event.preventDefault();
    const slot = handlers.slot(button.dataset.slotId);
    const step = event.key === "ArrowUp" ? -STEP_MINUTES : STEP_MINUTES;
    if (!slot) return;
    if (event.shiftKey) {
      if (slot.status !== "scheduled" && slot.status !== "live") return;
      const duration = (Date.parse(slot.ends_at) - Date.parse(slot.starts_at)) / MINUTE;
      if (duration + step < STEP_MINUTES) return;
    } else if (!MOVABLE.has(slot.status)) return;
    const [starts, ends] = shifted(slot, step, event.shiftKey);
    handlers.move(slot.id, starts, ends);
  });
}

/** The slot's times moved by `minutes` (or only its end, when resizing). */
export function shifted(slot, minutes, resizeOnly) {
  const delta = minutes * MINUTE;
  const starts = Date.parse(slot.starts_at) + (resizeOnly ? 0 : delta);
  const ends = Date.parse(slot.ends_at) + delta;
  return [new Date(starts).toISOString(), new Date(ends).toISOString()];
}
