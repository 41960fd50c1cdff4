// The viewer page: keeps now/next and the schedule current from the event's live stream.

import { formatClock } from "./times.js";
import { EventStream, showConnection } from "./stream.js";
import { setUpFollows, showFollows } from "./follow.js";
import {
  SlotStore, fillSlot, h, hashtag, isOverdue, personLabel, place, slotElement, timeElement,
} from "./slots.js";

const slug = document.body.dataset.event;
const store = new SlotStore();
const connection = document.getElementById("connection");
const announcer = document.getElementById("announcer");

// What a screen reader hears when something changes (status changes only, not every edit).
const ANNOUNCEMENTS = {
  "slot.live": (slot) => `Now live on ${slot.channel_name}: ${slot.title}`,
  "slot.ended": (slot) => `${slot.title} has ended`,
  "slot.cancelled": (slot) => `${slot.title} is cancelled`,
  "slot.rescheduled": (slot) => `${slot.title} now starts at ${formatClock(slot.starts_at)}`,
  "slot.created": (slot) => `New on ${slot.channel_name}: ${slot.title}`,
};

function announce(text) {
  announcer.textContent = text;
}

function showSlot(slot) {
  const element = slotElement(slot);
  fillSlot(element, slot);
  if (!place(element, slot.channel)) {
    announce("The schedule has a new channel: reload the page to see it.");
  }
  showFollows(element);
}

function nowLines(live) {
  if (!live.length) return [h("p", { class: "quiet" }, "Nothing live right now.")];
  return live.flatMap((slot) => {
    const lines = [
      h("p", { class: "now-line" },
        h("span", { class: "badge badge-live" }, "Live now"), " ",
        h("a", { href: `#slot-${slot.id}` }, slot.title)),
    ];
    if (slot.people.length) {
      lines.push(h("p", { class: "now-people" }, `with ${slot.people.map(personLabel).join(", ")}`));
    }
    return lines;
  });
}

function nextLine(slot) {
  if (!slot) return [h("p", { class: "quiet" }, "Nothing more scheduled.")];
  if (isOverdue(slot)) {
    return [
      h("p", { class: "next-line" }, h("span", { class: "badge badge-soon" }, "Starting soon"), " ",
        h("a", { href: `#slot-${slot.id}` }, slot.title)),
    ];
  }
  return [
    h("p", { class: "next-line" }, "Up next at ", timeElement(slot.starts_at), ": ",
      h("a", { href: `#slot-${slot.id}` }, slot.title)),
  ];
}

function renderNowNext() {
  document.querySelectorAll("[data-now-card]").forEach((card) => {
    const { live, next } = store.nowAndNext(card.dataset.nowCard);
    card.querySelector("[data-now]").replaceChildren(...nowLines(live));
    card.querySelector("[data-next]").replaceChildren(...nextLine(next));
  });
}

function showEventDetails(details) {
  document.querySelectorAll('[data-event-field="title"]').forEach((node) => {
    node.textContent = details.title;
  });
  document.querySelectorAll('[data-event-field="description"]').forEach((node) => {
    node.textContent = details.description;
  });
  document.querySelectorAll('[data-event-field="hashtags"]').forEach((node) => {
    node.replaceChildren(...details.hashtags.map((tag) => h("li", {}, hashtag(tag))));
  });
}

function setUpCopyButtons() {
  const status = document.getElementById("copy-status");
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const input = document.getElementById(button.dataset.copy);
      try {
        await navigator.clipboard.writeText(input.value);
        status.textContent = "Link copied.";
      } catch {
        input.select(); // no clipboard access (plain HTTP, or refused): let the viewer copy it
        status.textContent = "Selected: press Ctrl+C (or ⌘C) to copy.";
      }
    });
  });
}

const stream = new EventStream(slug, {
  snapshot(message) {
    store.replaceAll(message.slots);
    message.slots.forEach(showSlot);
    renderNowNext();
  },
  change(message) {
    if (message.type === "slot.deleted") store.remove(message.slot_id);
    if (message.slot) {
      store.put(message.slot);
      showSlot(message.slot);
      const say = ANNOUNCEMENTS[message.type];
      if (say) announce(say(message.slot));
    }
    if (message.type === "event.updated" && message.details) showEventDetails(message.details);
    renderNowNext();
  },
  status(state, text) {
    showConnection(connection, state, text);
  },
});

setUpCopyButtons();
setUpFollows();
stream.start();
// "Up next" and "Starting soon" depend on the clock as well as on changes.
setInterval(() => {
  if (stream.seq === null) return;
  store.slots.forEach(showSlot);
  renderNowNext();
}, 30_000);
