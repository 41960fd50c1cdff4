// Who is ready for each slot, as GET /api/events/{slug}/readiness tells the host: whether each
// person confirmed, which notices went out, and whether they are connected right now. Every
// state is said in words, not only in colour.

import { h } from "./slots.js";

const BOOKING_STATES = {
  confirmed: "Confirmed",
  invited: "Invited, not confirmed yet",
  declined: "Declined",
};

function noticeName(notice) {
  if (notice.kind === "reminder") return `${notice.minutes_before} min`;
  if (notice.kind === "go_live") return "“you’re on”";
  if (notice.kind === "standby") return "standby (channel busy)";
  return notice.kind;
}

function named(notices, state) {
  return notices.filter((notice) => notice.state === state).map(noticeName).join(", ");
}

function remindedText(row) {
  if (row.booking_status === "declined") return "Declined: find someone else or go on without them";
  if (row.booking_status !== "confirmed") return "Not reminded until they confirm";
  if (!row.notices.length) return "No reminders due";
  const sent = named(row.notices, "sent");
  const missed = named(row.notices, "missed");
  const parts = [`Reminded: ${sent || "not yet"}`];
  if (missed) parts.push(`missed: ${missed}`);
  return parts.join("; ");
}

function personName(person) {
  return [`${person.name} `, h("span", { class: "handle" }, `@${person.handle}`)];
}

function personRow(row) {
  const confirmed = row.booking_status === "confirmed";
  const reminded = row.notices.some((notice) => notice.state === "sent");
  const missed = row.notices.some((notice) => notice.state === "missed");
  return h("li", { class: "person-readiness", "data-person": row.person.id, "data-booking": row.booking_status },
    h("span", { class: "person-name" }, ...personName(row.person), ` · ${row.person.role}`),
    h("span", { class: "checks" },
      h("span", { class: `pill ${confirmed ? "ok" : "warn"}`, "data-check": "confirmed" },
        BOOKING_STATES[row.booking_status] || row.booking_status),
      h("span", { class: `pill ${missed ? "warn" : reminded ? "ok" : "plain"}`, "data-check": "reminded" },
        remindedText(row)),
      h("span", { class: `pill ${row.connected ? "ok" : "plain"}`, "data-check": "connected" },
        row.connected ? "Connected" : "Not connected")));
}

/** The readiness block of one slot; `entry` is undefined for slots no longer upcoming. */
export function readinessBlock(entry, slot) {
  if (!entry) {
    if (!slot.people.length) return [h("p", { class: "quiet" }, "No one on this slot.")];
    return [h("ul", { class: "readiness-list" },
      slot.people.map((person) => h("li", { class: "person-readiness" }, ...personName(person))))];
  }
  if (!entry.people.length) return [h("p", { class: "quiet" }, "No one booked.")];
  return [h("ul", { class: "readiness-list", "aria-label": "People" }, entry.people.map(personRow))];
}
