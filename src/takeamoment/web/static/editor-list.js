// The schedule as lists, one per channel: the same actions as the timeline, as plain buttons,
// for keyboards, screen readers and phones.

import { h } from "./slots.js";
import { MOVABLE, peopleSummary, shifted } from "./editor-timeline.js";
import { clock } from "./zoned.js";

const STATUS = { scheduled: "Scheduled", live: "Live now", ended: "Ended", cancelled: "Cancelled" };

/** A button that shows `shown` and says `before` + `shown` + the slot's title to screen readers. */
function action(before, shown, title, attributes) {
  return h("button", { type: "button", ...attributes },
    before ? h("span", { class: "visually-hidden" }, before) : null, shown,
    h("span", { class: "visually-hidden" }, `: ${title}`));
}

function group(label, buttons) {
  return h("span", { class: "action-group" }, h("span", { class: "group-label", "aria-hidden": "true" }, label), ...buttons);
}

function slotItem(slot, zone) {
  const movable = MOVABLE.has(slot.status);
  const extendable = movable || slot.status === "live";
  const t = slot.title;
  const actions = [action("", "Edit", t, { "data-list-action": "open" })];
  if (movable) {
    actions.push(group("Move 5 min", [
      action("Move 5 min ", "earlier", t, { "data-list-action": "move", "data-minutes": "-5" }),
      action("Move 5 min ", "later", t, { "data-list-action": "move", "data-minutes": "5" })]));
  }
  if (extendable) {
    actions.push(group("End 5 min", [
      action("End 5 min ", "sooner", t, { "data-list-action": "resize", "data-minutes": "-5" }),
      action("End 5 min ", "later", t, { "data-list-action": "resize", "data-minutes": "5" })]));
  }
  if (movable) actions.push(action("", "Delete", t, { "data-list-action": "delete", class: "danger" }));
  return h("li", { class: "list-slot", "data-slot-id": slot.id, "data-status": slot.status },
    h("p", { class: "slot-time" }, `${clock(slot.starts_at, zone)}–${clock(slot.ends_at, zone)}`),
    h("h4", { class: "slot-title" }, slot.title),
    h("p", { class: "status" }, `${STATUS[slot.status] || slot.status} · ${slot.kind}`),
    h("p", { class: "list-people" }, peopleSummary(slot)),
    h("div", { class: "actions" }, actions));
}

export function renderList(container, { channels, slots, range, zone }) {
  const focused = document.activeElement;
  const focusKey = focused?.closest?.("[data-slot-id]")
    ? [focused.closest("[data-slot-id]").dataset.slotId, focused.dataset.listAction, focused.dataset.minutes]
    : null;
  const sections = channels.map((channel) => {
    const own = slots
      .filter((slot) => slot.channel === channel.slug)
      .filter((slot) => Date.parse(slot.ends_at) > range.start && Date.parse(slot.starts_at) < range.end)
      .sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at));
    return h("section", { class: "list-channel", "aria-labelledby": `list-${channel.slug}` },
      h("h3", { id: `list-${channel.slug}` }, channel.name),
      own.length ? h("ol", { class: "list-slots" }, own.map((slot) => slotItem(slot, zone)))
        : h("p", { class: "quiet" }, "Nothing on this channel this day."),
      h("button", { type: "button", "data-list-add": channel.slug }, `Add a slot on ${channel.name}`));
  });
  container.replaceChildren(...sections);
  if (focusKey) {
    const [id, name, minutes] = focusKey;
    const selector = `[data-slot-id="${CSS.escape(id)}"] [data-list-action="${name}"]${minutes ? `[data-minutes="${minutes}"]` : ""}`;
    container.querySelector(selector)?.focus();
  }
}

/** handlers: slot(id), open(id), move(id, startsIso, endsIso), remove(id), create(channel) */
export function setUpList(container, handlers) {
  container.addEventListener("click", (event) => {
    const add = event.target.closest("[data-list-add]");
    if (add) {
      handlers.create(add.dataset.listAdd);
      return;
    }
    const button = event.target.closest("[data-list-action]");
    if (!button) return;
    const slot = handlers.slot(button.closest("[data-slot-id]").dataset.slotId);
    if (!slot) return;
    const minutes = Number(button.dataset.minutes || 0);
    if (button.dataset.listAction === "open") handlers.open(slot.id);
    else if (button.dataset.listAction === "delete") handlers.remove(slot.id);
    else handlers.move(slot.id, ...shifted(slot, minutes, button.dataset.listAction === "resize"));
  });
}
