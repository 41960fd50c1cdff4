// A creator's or therapist's own page: countdowns to their sessions, their notices live, their
// notification settings, this device's notifications and their calendar link. Invitations are
// answered by the page's own forms; when a notice says their sessions changed, the sections are
// fetched again from the server, which renders them, so there is one way they are drawn.

import { ApiError, api, explain } from "./api.js";
import { currentSubscription, pushSupported, turnOff, turnOn } from "./me-push.js";
import { NoticeStream } from "./me-stream.js";
import { h } from "./slots.js";
import { showConnection } from "./stream.js";

const notice = document.getElementById("notice");
const errorBox = document.getElementById("error");
const noticeList = document.querySelector("[data-notice-list]");
const noNotices = document.querySelector("[data-no-notices]");
const preferences = document.querySelector("[data-preferences]");
const pushOn = document.querySelector("[data-push-on]");
const pushOff = document.querySelector("[data-push-off]");
const pushState = document.querySelector("[data-push-state]");
const feed = document.querySelector("[data-feed]");
const zone = document.body.dataset.zone || "UTC";
// Notices after which the invitations and sessions shown may be out of date.
const CHANGES_SESSIONS = new Set(["booking.invited", "booking.removed", "schedule.changed", "slot.cancelled", "go_live", "standby"]);

function tell(text) {
  errorBox.hidden = true;
  notice.textContent = text;
}

function fail(error) {
  notice.textContent = "";
  const text = error instanceof ApiError && error.status === 401
    ? "Your session has ended. Open a new sign-in link from your host to go on."
    : explain(error);
  errorBox.replaceChildren(h("p", {}, text));
  errorBox.hidden = false;
}

// Countdowns: "Starts in 2 h 05 min", then what the slot's status says.
function span(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (days) return `${days} d ${hours} h`;
  if (hours) return `${hours} h ${String(minutes).padStart(2, "0")} min`;
  return `${minutes} min ${String(seconds).padStart(2, "0")} s`;
}

function countdownText(element, now) {
  const { status, starts, ends } = element.dataset;
  if (status === "live") return ["On air now", "live"];
  if (status === "ended") return ["Ended", ""];
  if (status === "cancelled") return ["Cancelled", ""];
  const start = Date.parse(starts);
  if (now < start) return [`Starts in ${span(start - now)}`, start - now < 15 * 60_000 ? "soon" : ""];
  if (now < Date.parse(ends)) return ["Starting soon: your host takes it live", "soon"];
  return ["Past its end", ""];
}

function tick() {
  const now = Date.now();
  document.querySelectorAll("[data-countdown]").forEach((element) => {
    const [text, state] = countdownText(element, now);
    const badge = element.querySelector("[data-countdown-text]");
    if (badge.textContent !== text) badge.textContent = text;
    badge.className = `badge${state === "live" ? " badge-live" : state === "soon" ? " badge-soon" : ""}`;
  });
}

// Live notices, newest first, in the person's zone, written as the server writes them
// ("Sat 28 Nov 19:43 EST").
const atParts = new Intl.DateTimeFormat("en-GB", { timeZone: zone, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const zoneName = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "short" });

function at(iso) {
  const moment = new Date(iso);
  const part = (parts, type) => parts.find((p) => p.type === type)?.value || "";
  const parts = atParts.formatToParts(moment);
  const abbreviation = part(zoneName.formatToParts(moment), "timeZoneName");
  return `${part(parts, "weekday")} ${part(parts, "day")} ${part(parts, "month")} ${part(parts, "hour")}:${part(parts, "minute")} ${abbreviation}`;
}

// A notice's link, unless it is this very page.
function linkOf(message) {
  if (typeof message.url !== "string" || !/^https?:\/\//.test(message.url)) return null;
  return new URL(message.url).pathname === location.pathname ? null : message.url;
}

function noticeItem(message) {
  const url = linkOf(message);
  const link = url ? h("p", {}, h("a", { href: url }, "Open", h("span", { class: "visually-hidden" }, `: ${message.title}`))) : null;
  return h("li", { class: "my-notice", "data-new": "" },
    h("p", { class: "my-notice-title" }, h("span", { class: "badge" }, "New"), " ", h("strong", {}, message.title || message.kind), " ",
      h("span", { class: "quiet" }, at(message.at))),
    message.body ? h("p", {}, message.body) : null,
    link);
}

let refreshing = null;
async function refreshSessions() {
  // One refresh at a time; notices that arrive meanwhile are covered by the next one.
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      const response = await fetch("/me", { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html").querySelector("[data-sections]");
      const sections = document.querySelector("[data-sections]");
      if (fresh && sections && !sections.contains(document.activeElement)) {
        sections.replaceWith(document.adoptNode(fresh));
        tick();
      }
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function showNotice(message) {
  noticeList.prepend(noticeItem(message));
  noNotices.hidden = true;
  if (CHANGES_SESSIONS.has(message.kind)) refreshSessions();
}

// Settings: each box is saved as soon as it changes.
preferences.addEventListener("change", async (event) => {
  const box = event.target;
  box.disabled = true;
  try {
    const saved = await api("/api/me/preferences", { method: "PATCH", body: { [box.name]: box.checked } });
    box.checked = saved[box.name];
    const what = box.name === "email" ? "Email notices" : "Notifications on your devices";
    tell(`${what} ${box.checked ? "on" : "off"}.`);
  } catch (error) {
    box.checked = !box.checked;
    fail(error);
  } finally {
    box.disabled = box.name === "email" && box.dataset.noAddress === "true";
  }
});
preferences.addEventListener("submit", (event) => event.preventDefault());

function showDevice(subscribed, text) {
  pushOn.hidden = subscribed;
  pushOff.hidden = !subscribed;
  pushState.textContent = text;
}

pushOn.addEventListener("click", async () => {
  pushOn.disabled = true;
  pushState.textContent = "Turning on…";
  try {
    await turnOn();
    showDevice(true, "Notifications are on for this device, even with this page closed.");
    if (!preferences.elements.push.checked) preferences.elements.push.click();
  } catch (error) {
    showDevice(false, "");
    fail(error);
  } finally {
    pushOn.disabled = false;
  }
});

pushOff.addEventListener("click", async () => {
  try {
    await turnOff();
    showDevice(false, "Notifications are off for this device.");
  } catch (error) {
    fail(error);
  }
});

async function showDeviceState() {
  if (!pushSupported()) {
    pushOn.disabled = true;
    pushState.textContent = "This browser cannot show notifications from a web page.";
    return;
  }
  try {
    const subscription = await currentSubscription();
    if (subscription) showDevice(true, "Notifications are on for this device.");
  } catch {
    // No worker yet: the button offers to turn them on.
  }
}

// The calendar link: made anew on request (only its hash is kept, so it cannot be shown again).
document.querySelector("[data-feed-new]").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    const person = encodeURIComponent(document.body.dataset.person);
    const { feed_url: url } = await api(`/api/people/${person}/feed-token/rotate`, { method: "POST" });
    feed.querySelector("[data-feed-url]").value = url;
    feed.querySelector("[data-feed-webcal]").href = url.replace(/^https?:/, "webcal:");
    feed.hidden = false;
    button.textContent = "Make a new calendar link";
    tell("Your calendar link is ready. Any earlier link of yours no longer works.");
  } catch (error) {
    fail(error);
  } finally {
    button.disabled = false;
  }
});

feed.querySelector("[data-feed-copy]").addEventListener("click", async () => {
  const input = feed.querySelector("[data-feed-url]");
  try {
    await navigator.clipboard.writeText(input.value);
    tell("Calendar link copied.");
  } catch {
    input.select();
    tell("Selected: press Ctrl+C (or ⌘C) to copy.");
  }
});

const connection = document.getElementById("connection");
new NoticeStream(Number(document.body.dataset.latestSeq || 0), {
  notice: showNotice,
  status: (state, text) => showConnection(connection, state, text),
}).start();
tick();
setInterval(tick, 1000);
showDeviceState();
