// The slot dialog: add or edit a slot (title, description, kind, tags, channel, times, stream link),
// delete it, and book people: who is on it, and who could be, each checked by the server's rules.

import { api } from "./api.js";
import { confirmAction } from "./confirm.js";
import { clearError, showError } from "./messages.js";
import { h } from "./slots.js";
import { fromLocalInput, toLocalInput } from "./zoned.js";

const dialog = document.getElementById("slot-dialog");
const form = document.getElementById("slot-form");
const errorBox = document.getElementById("slot-error");
const heading = document.getElementById("slot-dialog-title");
const panel = dialog.querySelector("[data-bookings-panel]");
const bookingList = dialog.querySelector("[data-booking-list]");
const candidateList = dialog.querySelector("[data-candidate-list]");
const search = document.getElementById("candidate-search");
const roleFilter = dialog.querySelector("[data-candidate-role]");
const deleteButton = dialog.querySelector("[data-delete-slot]");
const BOOKING_STATES = {
  invited: "Invited, not confirmed yet",
  confirmed: "Confirmed",
  declined: "Declined",
  removed: "Removed",
  cancelled: "Released (slot cancelled)",
};
const DEFAULT_MINUTES = 30;
let ctx = null; // {zone, channels, describe, changed(slot), deleted(id), tell(text)}
let current = null; // the slot being edited; null while adding one
let searchTimer = null;

const slotPath = (id, tail = "") => `/api/slots/${encodeURIComponent(id)}${tail}`;

function words(text) {
  return text.split(/[\s,]+/).map((word) => word.replace(/^#/, "")).filter(Boolean);
}

function fill(slot, channel, startsIso) {
  const start = slot ? slot.starts_at : startsIso;
  const end = slot ? slot.ends_at : new Date(Date.parse(startsIso) + DEFAULT_MINUTES * 60_000).toISOString();
  form.elements.title.value = slot ? slot.title : "";
  form.elements.description.value = slot ? slot.description : "";
  form.elements.kind.value = slot ? slot.kind : "session";
  form.elements.tags.value = slot ? slot.tags.join(" ") : "";
  form.elements.stream_url.value = slot?.stream_url || "";
  form.elements.starts_at.value = toLocalInput(start, ctx.zone());
  form.elements.ends_at.value = toLocalInput(end, ctx.zone());
  form.elements.channel.replaceChildren(...ctx.channels().map((c) => h("option", { value: c.slug }, c.name)));
  form.elements.channel.value = slot ? slot.channel : channel;
}

function showMode() {
  const editing = current !== null;
  heading.textContent = editing ? `“${current.title}”` : "New slot";
  // A scheduled slot may move to another lane; a live or past one stays where it was on air.
  form.elements.channel.disabled = editing && current.status !== "scheduled";
  deleteButton.hidden = !editing || current.status !== "scheduled";
  panel.hidden = !editing;
  const editable = !editing || current.status === "scheduled" || current.status === "live";
  form.elements.starts_at.disabled = editing && current.status !== "scheduled";
  form.elements.ends_at.disabled = !editable;
}

/** Open the dialog: to edit `slot`, or to add one on `channel` from `startsIso`. */
export function openSlot(slot, channel = null, startsIso = null) {
  current = slot;
  clearError(errorBox);
  fill(slot, channel, startsIso);
  showMode();
  search.value = "";
  candidateList.replaceChildren();
  dialog.showModal();
  form.elements.title.focus();
  if (slot) loadBookings();
}

function body() {
  const zone = ctx.zone();
  const data = {
    title: form.elements.title.value.trim(),
    description: form.elements.description.value,
    kind: form.elements.kind.value.trim() || "session",
    tags: words(form.elements.tags.value),
    stream_url: form.elements.stream_url.value.trim() || null,
  };
  if (!form.elements.starts_at.disabled) data.starts_at = fromLocalInput(form.elements.starts_at.value, zone);
  if (!form.elements.ends_at.disabled) data.ends_at = fromLocalInput(form.elements.ends_at.value, zone);
  if (!current || (!form.elements.channel.disabled && form.elements.channel.value !== current.channel)) {
    data.channel = form.elements.channel.value;
  }
  return data;
}

async function save(event) {
  event.preventDefault();
  clearError(errorBox);
  const data = body();
  const problems = [];
  if (!data.title) problems.push("Give the slot a title.");
  if ("starts_at" in data && !data.starts_at) problems.push("Give the start, date and time.");
  if ("ends_at" in data && !data.ends_at) problems.push("Give the end, date and time.");
  if (problems.length) {
    showError(errorBox, new Error(problems.join(" ")));
    return;
  }
  try {
    const slot = current
      ? await api(slotPath(current.id), { method: "PATCH", body: data })
      : await api(`/api/events/${encodeURIComponent(ctx.slug)}/slots`, { method: "POST", body: data });
    const added = !current;
    current = { ...slot, bookings: current?.bookings || [] };
    ctx.changed(current);
    if (added) {
      ctx.tell(`Added “${slot.title}”. Invite people to it below, or close.`);
      showMode();
      loadBookings();
      search.focus();
    } else {
      ctx.tell(`Saved “${slot.title}”.`);
      dialog.close();
    }
  } catch (error) {
    showError(errorBox, error, ctx.describe);
  }
}

async function removeSlot() {
  const slot = current;
  const ok = await confirmAction({
    title: `Delete “${slot.title}”?`,
    body: "It leaves the schedule for good; everyone booked on it is told. This cannot be undone.",
    yes: "Delete the slot",
  });
  if (!ok) return;
  try {
    await api(slotPath(slot.id), { method: "DELETE" });
    dialog.close();
    ctx.deleted(slot.id);
    ctx.tell(`Deleted “${slot.title}”.`);
  } catch (error) {
    showError(errorBox, error, ctx.describe);
  }
}

function bookingItem(booking) {
  const active = booking.status === "invited" || booking.status === "confirmed";
  return h("li", { class: "booking", "data-booking-status": booking.status },
    h("span", { class: "person-name" }, `${booking.person.name} `, h("span", { class: "handle" }, `@${booking.person.handle}`), ` · ${booking.role}`),
    h("span", { class: `pill ${booking.status === "confirmed" ? "ok" : booking.status === "invited" ? "warn" : "plain"}` }, BOOKING_STATES[booking.status] || booking.status),
    active ? h("button", { type: "button", "data-remove-booking": booking.id }, "Remove",
      h("span", { class: "visually-hidden" }, ` ${booking.person.name}`)) : null);
}

const stillOn = (id) => dialog.open && current !== null && current.id === id;

async function loadBookings() {
  if (!current) return;
  const id = current.id;
  try {
    const bookings = await api(slotPath(id, "/bookings"));
    if (!stillOn(id)) return; // the host moved on to another slot meanwhile
    bookingList.replaceChildren(...(bookings.length ? bookings.map(bookingItem)
      : [h("li", { class: "quiet" }, "No one yet.")]));
  } catch (error) {
    showError(errorBox, error);
  }
}

function candidateItem(candidate) {
  const { person } = candidate;
  const reasons = candidate.reasons.map((reason) => reason.message).join("; ");
  return h("li", { class: `candidate ${candidate.bookable ? "free" : "busy"}` },
    h("span", { class: "person-name" }, `${person.name} `, h("span", { class: "handle" }, `@${person.handle}`), ` · ${person.role}`),
    h("span", { class: `pill ${candidate.bookable ? "ok" : "warn"}` }, candidate.bookable ? "Free" : `Not free: ${reasons}`),
    candidate.bookable ? h("button", { type: "button", "data-invite": person.id, "data-role": person.role }, "Invite",
      h("span", { class: "visually-hidden" }, ` ${person.name}`)) : null);
}

async function loadCandidates() {
  if (!current) return;
  const id = current.id;
  const query = new URLSearchParams({ q: search.value.trim() });
  if (roleFilter.value) query.set("role", roleFilter.value);
  try {
    const found = await api(slotPath(id, `/candidates?${query}`));
    if (!stillOn(id)) return;
    candidateList.replaceChildren(...(found.length ? found.map(candidateItem)
      : [h("li", { class: "quiet" }, "No one matches. Add people on the People page.")]));
  } catch (error) {
    showError(errorBox, error);
  }
}

async function refreshPeople() {
  const id = current.id;
  await loadBookings();
  if (search.value.trim() || roleFilter.value) await loadCandidates();
  const fresh = await api(slotPath(id));
  if (stillOn(id)) current = fresh;
  ctx.changed(fresh);
}

async function invite(button) {
  clearError(errorBox);
  try {
    await api(slotPath(current.id, "/bookings"), { method: "POST", body: { person_id: button.dataset.invite, role: button.dataset.role } });
    ctx.tell("Invited: they are told now, and can accept or decline.");
    await refreshPeople();
    search.focus();
  } catch (error) {
    showError(errorBox, error, ctx.describe);
  }
}

async function removeBooking(button) {
  clearError(errorBox);
  try {
    await api(`/api/bookings/${encodeURIComponent(button.dataset.removeBooking)}`, { method: "DELETE" });
    ctx.tell("Removed from the slot.");
    await refreshPeople();
    search.focus();
  } catch (error) {
    showError(errorBox, error, ctx.describe);
  }
}

/** Wire the dialog once; `context` gives the page's state and what to do after a change. */
export function setUpSlotDialog(context) {
  ctx = context;
  form.addEventListener("submit", save);
  deleteButton.addEventListener("click", removeSlot);
  dialog.querySelector("[data-close-dialog]").addEventListener("click", () => dialog.close());
  const later = () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadCandidates, 250); };
  search.addEventListener("input", later);
  roleFilter.addEventListener("change", loadCandidates);
  search.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); loadCandidates(); } });
  panel.addEventListener("click", (event) => {
    const inviteButton = event.target.closest("[data-invite]");
    if (inviteButton) invite(inviteButton);
    const removeButton = event.target.closest("[data-remove-booking]");
    if (removeButton) removeBooking(removeButton);
  });
}

/** The slot being edited changed elsewhere (another tab): show its bookings again. */
export function slotChangedElsewhere(slot) {
  if (dialog.open && current && current.id === slot.id) {
    current = slot;
    loadBookings();
  }
}

export function isEditing(id) {
  return dialog.open && current && current.id === id;
}
