// The console's change log: each change of the event's stream as one line, newest first.

import { formatClock } from "./times.js";
import { h, timeElement } from "./slots.js";

function name(slot) {
  return slot ? `“${slot.title}”` : "a slot";
}

const DESCRIPTIONS = {
  "slot.created": (m) => `Added ${name(m.slot)} on ${m.slot.channel_name} at ${formatClock(m.slot.starts_at)}`,
  "slot.updated": (m) => (m.restored ? `Restored: ${name(m.slot)}` : `Changed ${name(m.slot)}`),
  "slot.rescheduled": (m) => `Moved ${name(m.slot)}: now ${formatClock(m.slot.starts_at)}–${formatClock(m.slot.ends_at)}`,
  "slot.live": (m) => `${m.reopened ? "Reopened" : "Live"}: ${name(m.slot)} on ${m.slot.channel_name}`,
  "slot.ended": (m) => `Ended: ${name(m.slot)}`,
  "slot.cancelled": (m) => `Cancelled: ${name(m.slot)}`,
  "slot.overrun": (m) => `Running over: ${name(m.slot)} was due to end at ${formatClock(m.slot.ends_at)}`,
  "booking.confirmed": (m) => `${m.booking.person.name} confirmed for ${name(m.slot)}`,
  "booking.removed": (m) => `${m.booking.person.name} is no longer on ${name(m.slot)}`,
  "slot.deleted": (m) => `Deleted ${name(m.deleted)}`,
  "channel.updated": (m) => `Channel ${m.channel.name} changed`,
  "channel.deleted": (m) => `Channel ${m.channel.name} deleted`,
  // The public log names only people who had confirmed; readiness shows who declined.
  "booking.declined": (m) => (m.booking.person
    ? `${m.booking.person.name} declined ${name(m.slot)}`
    : `An invited ${m.booking.role} declined ${name(m.slot)} (see who on the slot)`),
  "event.updated": () => "The event’s details changed",
  "notice.missed": (m) => `A ${m.kind === "reminder" ? `${m.minutes_before}-minute reminder` : "“you’re on” notice"} for ${name(m.slot)} was missed (the server was down when it was due)`,
};

export function describe(message) {
  const say = DESCRIPTIONS[message.type];
  try {
    return say ? say(message) : message.type;
  } catch {
    return message.type; // a message without the fields we expected: still log that it happened
  }
}

/** Add a change to the log unless it is there already (a replay after reconnecting). */
export function logChange(list, message) {
  if (list.querySelector(`[data-seq="${message.seq}"]`)) return;
  const entry = h("li", { "data-seq": String(message.seq), "data-type": message.type },
    timeElement(message.at), " ", describe(message));
  const newer = [...list.children].find((other) => Number(other.dataset.seq) < message.seq);
  list.insertBefore(entry, newer || null);
}
