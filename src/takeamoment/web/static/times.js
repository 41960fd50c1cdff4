// Times arrive from the server in UTC inside <time datetime> elements; this shows them in the
// viewer's own time zone. Importing the module localises the whole page once.

export const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

const clock = { hour: "2-digit", minute: "2-digit" };
const formats = {
  time: new Intl.DateTimeFormat(undefined, clock),
  daytime: new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", ...clock }),
  datetime: new Intl.DateTimeFormat(undefined, {
    weekday: "short", day: "numeric", month: "short", year: "numeric", ...clock,
  }),
  full: new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" }),
};
const dayKey = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit" });

// When the event spans more than one day in the viewer's zone, slot times also say the day.
function spansDays() {
  const { eventStarts, eventEnds } = document.body.dataset;
  if (!eventStarts || !eventEnds) return false;
  const start = new Date(eventStarts);
  const lastMinute = new Date(new Date(eventEnds).getTime() - 60_000);
  return dayKey.format(start) !== dayKey.format(lastMinute);
}
const multiDay = spansDays();

// The end of a span (macros.html, span_el) needs no date when the span starts that same day.
function sameDayAsStart(element, moment) {
  const start = element.closest(".span")?.querySelector("time");
  return Boolean(start) && start !== element && dayKey.format(new Date(start.dateTime)) === dayKey.format(moment);
}

/** Show one <time> element in the viewer's zone; `iso` replaces its datetime when given. */
export function showTime(element, iso) {
  if (iso) element.dateTime = iso;
  const moment = new Date(element.dateTime);
  if (Number.isNaN(moment.getTime())) return;
  let format = element.dataset.format || "time";
  if (format === "time" && multiDay) format = "daytime";
  if (format === "until") format = sameDayAsStart(element, moment) ? "time" : "datetime";
  element.textContent = formats[format].format(moment);
  element.title = `${formats.full.format(moment)} (${viewerZone})`;
}

export function formatClock(iso) {
  return formats[multiDay ? "daytime" : "time"].format(new Date(iso));
}

/** Localise every <time datetime> under `root`, and name the viewer's zone where asked. */
export function localise(root = document) {
  root.querySelectorAll("time[datetime]").forEach((element) => showTime(element));
  root.querySelectorAll("[data-viewer-zone]").forEach((element) => {
    element.textContent = viewerZone;
  });
}

localise();
