// Slots on a page: fill the server's markup (cloned from <template id="slot-template">, which
// the server renders from the same macro as the first paint) and keep each channel in order.

import { showTime } from "./times.js";

export const STATUS_LABELS = {
  scheduled: "Scheduled",
  live: "Live now",
  ended: "Ended",
  cancelled: "Cancelled",
};
export const OVERDUE_LABEL = "Starting soon";

/** A scheduled slot whose start has passed without it going live (as the server decides). */
export function isOverdue(slot, now = Date.now()) {
  return slot.status === "scheduled" && Date.parse(slot.starts_at) < now;
}

/**
 * The times to show: what happened for a live or ended slot, else the schedule
 * (domain/slot_states.py, times_on_air, is the same rule).
 */
export function shownTimes(slot) {
  const start = slot.actual_started_at || slot.starts_at;
  let end = slot.actual_ended_at;
  if (!end) {
    const length = Date.parse(slot.ends_at) - Date.parse(slot.starts_at);
    end = Date.parse(slot.ends_at) > Date.parse(start)
      ? slot.ends_at : new Date(Date.parse(start) + length).toISOString();
  }
  return { start, end };
}

export function statusLabel(slot) {
  return isOverdue(slot) ? OVERDUE_LABEL : STATUS_LABELS[slot.status] || slot.status;
}

/** A tag as shown: exactly one "#" (tags are stored without). */
export function hashtag(tag) {
  return `#${tag.replace(/^#+/, "")}`;
}

/** A small element builder: text always goes in as text, never as HTML. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined && value !== false) element.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) element.append(child);
  }
  return element;
}

export function timeElement(iso, format = "time") {
  const element = h("time", { "data-format": format });
  showTime(element, iso);
  return element;
}

export function personLabel(person) {
  return `${person.name} (@${person.handle})`;
}

function setAll(root, field, update) {
  root.querySelectorAll(`[data-field="${field}"]`).forEach(update);
}

/** Fill the fields every slot element has, viewer's or console's. */
export function fillSlot(element, slot) {
  const shown = shownTimes(slot);
  element.id = `slot-${slot.id}`;
  element.dataset.status = slot.status;
  element.dataset.starts = slot.starts_at;
  element.dataset.channel = slot.channel;
  element.toggleAttribute("data-overdue", isOverdue(slot));
  setAll(element, "title", (node) => { node.textContent = slot.title; });
  setAll(element, "status", (node) => { node.textContent = statusLabel(slot); });
  setAll(element, "description", (node) => { node.textContent = slot.description || ""; });
  setAll(element, "starts_at", (node) => showTime(node.querySelector("time"), shown.start));
  setAll(element, "ends_at", (node) => showTime(node.querySelector("time"), shown.end));
  setAll(element, "tags", (node) => node.replaceChildren(...(slot.tags || []).map((tag) => h("li", {}, hashtag(tag)))));
  setAll(element, "watch", (node) => {
    // The slot's own stream, else its channel's (the page's list of the channel says which).
    const list = document.querySelector(`[data-channel-slots="${CSS.escape(slot.channel)}"]`);
    const url = slot.stream_url || list?.dataset.channelStream || "";
    node.hidden = !/^https?:\/\//i.test(url);
    node.querySelector("a").href = node.hidden ? "" : url;
  });
  setAll(element, "session-link", (node) => {
    node.href = `/events/${encodeURIComponent(slot.event)}/sessions/${encodeURIComponent(slot.id)}`;
  });
  element.querySelectorAll("[data-follow]").forEach((node) => {
    node.dataset.followKey = slot.id;
    node.dataset.followEvent = slot.event;
  });
  setAll(element, "people", (node) => node.replaceChildren(
    ...(slot.people || []).map((person) => h("li", {}, `${person.name} `, h("span", { class: "handle" }, `@${person.handle}`))),
  ));
}

/** The slot's element, made from the template if the page does not have it yet. */
export function slotElement(slot) {
  const existing = document.getElementById(`slot-${slot.id}`);
  if (existing) return existing;
  const template = document.getElementById("slot-template");
  return template.content.firstElementChild.cloneNode(true);
}

/** Put the element in its channel's list, in start order; false when the page lacks the channel. */
export function place(element, channel) {
  const list = document.querySelector(`[data-channel-slots="${CSS.escape(channel)}"]`);
  if (!list) return false;
  const starts = Date.parse(element.dataset.starts);
  const after = [...list.children].find(
    (other) => other !== element && Date.parse(other.dataset.starts) > starts,
  );
  if (element.parentElement !== list || element.nextElementSibling !== after) {
    // Moving the focused element would lose focus: only move when the order really changed.
    const hadFocus = element.contains(document.activeElement) ? document.activeElement : null;
    list.insertBefore(element, after || null);
    if (hadFocus) hadFocus.focus();
  }
  return true;
}

/** Every slot of the page as data; fed by snapshots and changes. */
export class SlotStore {
  constructor() {
    this.slots = new Map();
  }

  replaceAll(slots) {
    this.slots = new Map(slots.map((slot) => [slot.id, slot]));
  }

  put(slot) {
    const before = this.slots.get(slot.id);
    this.slots.set(slot.id, slot);
    return before;
  }

  get(id) {
    return this.slots.get(id);
  }

  /** Forget a deleted slot and take its element off the page. */
  remove(id) {
    this.slots.delete(id);
    document.getElementById(`slot-${id}`)?.remove();
  }

  ofChannel(channel) {
    return [...this.slots.values()]
      .filter((slot) => slot.channel === channel)
      .sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at));
  }

  /**
   * Every live slot by start, and the first scheduled one not yet over: the rule of
   * domain/now_next.py, which the server-drawn page and `takeamoment watch` apply.
   */
  nowAndNext(channel, now = Date.now()) {
    const slots = this.ofChannel(channel);
    const live = slots.filter((slot) => slot.status === "live");
    const next = slots.find((slot) => slot.status === "scheduled" && Date.parse(slot.ends_at) > now) || null;
    return { live, next };
  }
}
