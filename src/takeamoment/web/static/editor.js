// The event editor: details, channels and the schedule (timeline or lists), every change made
// through the JSON API and kept only once the server agreed. Changes made elsewhere (another
// host, another tab) arrive on the event's stream, drafts included, and are drawn at once.

import { api, ApiError } from "./api.js";
import { confirmAction } from "./confirm.js";
import { fillEventForm } from "./editor-event.js";
import { renderChannels, setUpChannels } from "./editor-channels.js";
import { renderList, setUpList } from "./editor-list.js";
import { isEditing, openSlot, setUpSlotDialog, slotChangedElsewhere } from "./editor-slot.js";
import { renderTimeline, setUpTimeline } from "./editor-timeline.js";
import { Messages } from "./messages.js";
import { EventStream, showConnection } from "./stream.js";
import { clock, dayKey, daysOf, dayStart, longDay, nextDay } from "./zoned.js";

const slug = document.body.dataset.event;
const messages = new Messages();
const timeline = document.querySelector("[data-timeline]");
const timelineView = document.querySelector("[data-timeline-view]");
const listView = document.querySelector("[data-list-view]");
const daySelect = document.querySelector("[data-day-select]");
const dayHeading = document.querySelector("[data-day-heading]");
const PHONE = window.matchMedia("(max-width: 40rem)");
const state = { event: null, slots: new Map(), day: null, view: PHONE.matches ? "list" : "timeline" };
const pending = new Set();

const zone = () => state.event.timezone;
const channels = () => state.event.channels;
const eventPath = (tail = "") => `/api/events/${encodeURIComponent(slug)}${tail}`;

function describeSlot(id) {
  const slot = state.slots.get(id);
  if (!slot) return null;
  const label = `“${slot.title}” ${clock(slot.starts_at, zone())}–${clock(slot.ends_at, zone())} on ${slot.channel_name}`;
  return { title: slot.title, label };
}

function dayRange() {
  const days = daysOf(state.event.starts_at, state.event.ends_at, zone());
  if (!days.includes(state.day)) state.day = days[0];
  const start = Math.max(Date.parse(state.event.starts_at), dayStart(state.day, zone()).getTime());
  const end = Math.min(Date.parse(state.event.ends_at), dayStart(nextDay(state.day), zone()).getTime());
  return { start, end, days };
}

function renderDays(days) {
  daySelect.replaceChildren(...days.map((day) => {
    const option = document.createElement("option");
    option.value = day;
    option.textContent = longDay(day);
    return option;
  }));
  daySelect.value = state.day;
  document.querySelector("[data-day-choice]").hidden = days.length < 2;
}

function render() {
  const range = dayRange();
  renderDays(range.days);
  dayHeading.textContent = `${longDay(state.day)} · times in ${zone()}`;
  const data = { channels: channels(), slots: [...state.slots.values()], range, zone: zone() };
  document.querySelector("[data-no-channels]").hidden = channels().length > 0;
  timelineView.hidden = state.view !== "timeline";
  document.getElementById("timeline-help").hidden = state.view !== "timeline";
  listView.hidden = state.view !== "list";
  document.querySelectorAll("[data-view]").forEach((button) => {
    button.setAttribute("aria-pressed", String(button.dataset.view === state.view));
  });
  if (state.view === "timeline") renderTimeline(timeline, data);
  else renderList(listView, data);
  renderChannels();
}

function showEvent(event) {
  state.event = event;
  document.querySelectorAll("[data-event-title]").forEach((node) => { node.textContent = event.title; });
  const published = event.status === "published";
  document.querySelector("[data-event-status]").textContent = published ? "Published" : "Draft";
  document.querySelector("[data-viewer-link]").hidden = !published;
  document.querySelector('[data-event-action="publish"]').hidden = published;
  document.querySelector('[data-event-action="unpublish"]').hidden = !published;
  document.querySelector('[data-event-action="delete"]').hidden = published;
  fillEventForm(event);
}

async function load() {
  const schedule = await api(eventPath("/schedule"));
  showEvent(schedule.event);
  state.slots = new Map(schedule.slots.map((slot) => [slot.id, slot]));
  render();
  for (const slot of schedule.slots) slotChangedElsewhere(slot);
}

let reloadTimer = null;
function reloadSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => load().catch((error) => messages.fail(error)), 150);
}

function putSlot(slot) {
  const before = state.slots.get(slot.id);
  state.slots.set(slot.id, { ...slot, bookings: slot.bookings || before?.bookings || [] });
  render();
}

async function move(id, startsAt, endsAt) {
  if (pending.has(id)) return;
  const slot = state.slots.get(id);
  pending.add(id);
  try {
    const body = slot.status === "scheduled" ? { starts_at: startsAt, ends_at: endsAt } : { ends_at: endsAt };
    const moved = await api(`/api/slots/${encodeURIComponent(id)}`, { method: "PATCH", body });
    putSlot(moved);
    messages.tell(`“${moved.title}” is now ${clock(moved.starts_at, zone())}–${clock(moved.ends_at, zone())}.`);
  } catch (error) {
    render(); // back where it was: the server kept it there
    messages.fail(error, describeSlot);
  } finally {
    pending.delete(id);
  }
}

async function removeSlot(id) {
  const slot = state.slots.get(id);
  const ok = await confirmAction({
    title: `Delete “${slot.title}”?`,
    body: "It leaves the schedule for good; everyone booked on it is told. This cannot be undone.",
    yes: "Delete the slot",
  });
  if (!ok) return;
  try {
    await api(`/api/slots/${encodeURIComponent(id)}`, { method: "DELETE" });
    state.slots.delete(id);
    render();
    messages.tell(`Deleted “${slot.title}”.`);
  } catch (error) {
    messages.fail(error, describeSlot);
  }
}

function startOfView() {
  const range = dayRange();
  return new Date(range.start).toISOString();
}

function create(channel, startsIso) {
  if (!channels().length) {
    messages.fail(new Error("Add a channel first: each slot runs on a channel."));
    return;
  }
  openSlot(null, channel || channels()[0].slug, startsIso || startOfView());
}

async function eventAction(action) {
  if (action === "delete") {
    const ok = await confirmAction({
      title: `Delete the draft “${state.event.title}”?`,
      body: "Its channels, slots and bookings go with it; booked people are told. This cannot be undone.",
      yes: "Delete the draft",
    });
    if (!ok) return;
  }
  try {
    if (action === "delete") {
      await api(eventPath(), { method: "DELETE" });
      location.assign("/host");
      return;
    }
    showEvent(await api(eventPath(`/${action}`), { method: "POST" }));
    render();
    messages.tell(action === "publish" ? "Published: viewers can see the event now." : "Back to draft: viewers no longer see it.");
  } catch (error) {
    messages.fail(error);
  }
}

function setUp() {
  setUpTimeline(timeline, {
    slot: (id) => state.slots.get(id),
    range: () => dayRange(),
    zone,
    open: (id) => openSlot(state.slots.get(id)),
    create,
    move,
    redraw: render,
  });
  setUpList(listView, {
    slot: (id) => state.slots.get(id),
    open: (id) => openSlot(state.slots.get(id)),
    move,
    remove: removeSlot,
    create: (channel) => create(channel, null),
  });
  setUpSlotDialog({
    slug,
    zone,
    channels,
    describe: describeSlot,
    changed: putSlot,
    deleted: (id) => { state.slots.delete(id); render(); },
    tell: (text) => messages.tell(text),
  });
  setUpChannels({
    slug,
    channels,
    slotsOn: (channel) => [...state.slots.values()].filter((s) => s.channel === channel).length,
    changed: load,
    tell: (text) => messages.tell(text),
    fail: (error) => messages.fail(error),
  });
  document.querySelectorAll("[data-view]").forEach((button) => button.addEventListener("click", () => {
    state.view = button.dataset.view;
    render();
  }));
  document.querySelector("[data-add-slot]").addEventListener("click", () => create(null, null));
  daySelect.addEventListener("change", () => { state.day = daySelect.value; render(); });
  document.querySelectorAll("[data-event-action]").forEach((button) => {
    button.addEventListener("click", () => eventAction(button.dataset.eventAction));
  });
  document.getElementById("event-form").addEventListener("event-saved", (event) => {
    showEvent(event.detail);
    render();
    messages.tell("Saved the event's details.");
  });
}

function follow() {
  const stream = new EventStream(slug, {
    snapshot: () => reloadSoon(),
    change(message) {
      if (message.type === "slot.deleted") {
        state.slots.delete(message.slot_id);
        render();
      }
      if (message.slot && isEditing(message.slot.id)) slotChangedElsewhere({ ...message.slot, bookings: state.slots.get(message.slot.id)?.bookings || [] });
      reloadSoon(); // the host's view (invited people too) comes from the schedule
    },
    status: (stateName, text) => showConnection(document.getElementById("connection"), stateName, text),
  });
  stream.start();
}

setUp();
load().then(() => {
  if (!state.day) state.day = dayKey(state.event.starts_at, zone());
  follow();
}).catch((error) => {
  messages.fail(error instanceof ApiError ? error : new Error(String(error)));
});
