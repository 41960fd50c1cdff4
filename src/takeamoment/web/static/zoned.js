// Times in a named IANA zone (the event's, not the browser's): wall-clock parts of an instant,
// the instant of a wall-clock time, and the labels the editor shows. Intl does the zone rules.

const partFormats = new Map();

function partsFormat(zone) {
  if (!partFormats.has(zone)) {
    partFormats.set(zone, new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }));
  }
  return partFormats.get(zone);
}

/** {year, month, day, hour, minute} of the instant on the zone's clock. */
export function zonedParts(instant, zone) {
  const parts = {};
  for (const { type, value } of partsFormat(zone).formatToParts(instant)) parts[type] = Number(value);
  return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour, minute: parts.minute };
}

function offsetMs(instant, zone) {
  const p = zonedParts(instant, zone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute);
  return asUtc - Math.floor(instant.getTime() / 60_000) * 60_000;
}

/** The instant at which the zone's clock shows this wall-clock time (the earlier one if twice). */
export function fromZoned(year, month, day, hour, minute, zone) {
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  const first = guess - offsetMs(new Date(guess), zone);
  const second = guess - offsetMs(new Date(first), zone);
  return new Date(Math.min(first, second));
}

const pad = (n) => String(n).padStart(2, "0");

/** An ISO instant as a datetime-local value ("2030-10-10T10:30") on the zone's clock. */
export function toLocalInput(iso, zone) {
  const p = zonedParts(new Date(iso), zone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}`;
}

/** A datetime-local value read on the zone's clock, as an ISO instant (UTC); null if empty. */
export function fromLocalInput(value, zone) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
  if (!match) return null;
  const [, y, mo, d, h, mi] = match.map(Number);
  return fromZoned(y, mo, d, h, mi, zone).toISOString();
}

/** "10:30" on the zone's clock. */
export function clock(iso, zone) {
  const p = zonedParts(new Date(iso), zone);
  return `${pad(p.hour)}:${pad(p.minute)}`;
}

/** "YYYY-MM-DD" of the instant on the zone's clock: a key for the day. */
export function dayKey(iso, zone) {
  const p = zonedParts(new Date(iso), zone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

/** "Thursday 10 October 2030" for a day key. */
export function longDay(key) {
  const [y, m, d] = key.split("-").map(Number);
  return new Intl.DateTimeFormat("en-GB", {
    timeZone: "UTC", weekday: "long", day: "numeric", month: "long", year: "numeric",
  }).format(new Date(Date.UTC(y, m - 1, d, 12)));
}

/** The instant the day (a key) begins in the zone, and the next day's key. */
export function dayStart(key, zone) {
  const [y, m, d] = key.split("-").map(Number);
  return fromZoned(y, m, d, 0, 0, zone);
}

export function nextDay(key) {
  const [y, m, d] = key.split("-").map(Number);
  const next = new Date(Date.UTC(y, m - 1, d + 1));
  return `${next.getUTCFullYear()}-${pad(next.getUTCMonth() + 1)}-${pad(next.getUTCDate())}`;
}

/** Every day key the span [starts, ends) touches in the zone. */
export function daysOf(startsIso, endsIso, zone) {
  const last = dayKey(new Date(Date.parse(endsIso) - 60_000).toISOString(), zone);
  const days = [dayKey(startsIso, zone)];
  while (days[days.length - 1] < last && days.length < 366) days.push(nextDay(days[days.length - 1]));
  return days;
}
