// Reads an iCalendar file on stdin with ical.js, as web calendars do, and prints each VEVENT's
// UID, start and end as UTC instants (ISO 8601), with the zone ical.js used for each time.
// Only the file's own VTIMEZONEs are known to it: ical.js has no time zone data of its own.
import ICAL from "ical.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const root = new ICAL.Component(ICAL.parse(Buffer.concat(chunks).toString("utf8")));

ICAL.TimezoneService.reset();
for (const vtimezone of root.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(new ICAL.Timezone(vtimezone));
}

const instant = (time) => new Date(time.toUnixTime() * 1000).toISOString();
const events = root.getAllSubcomponents("vevent").map((vevent) => {
  const event = new ICAL.Event(vevent);
  return {
    uid: event.uid,
    start: instant(event.startDate),
    end: instant(event.endDate),
    start_zone: event.startDate.zone ? event.startDate.zone.tzid : null,
    end_zone: event.endDate.zone ? event.endDate.zone.tzid : null,
  };
});
process.stdout.write(JSON.stringify(events));
