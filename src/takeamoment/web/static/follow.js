// "Notify me": follow a session, a channel or the whole event with this browser's Web Push
// subscription (no account). The service worker (/sw.js) shows the pushes. What this browser
// follows is remembered in localStorage, with each follow's unfollow link, to show
// "Following · Stop".

const STORE_KEY = "takeamoment.follows";
const controls = "[data-follow]";

export function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

function remembered() {
  try {
    return JSON.parse(localStorage.getItem(STORE_KEY) || "{}") || {};
  } catch {
    return {};
  }
}

function remember(key, follow) {
  const all = remembered();
  if (follow) all[key] = follow;
  else delete all[key];
  localStorage.setItem(STORE_KEY, JSON.stringify(all));
}

function keyOf(control) {
  const { followEvent, follow, followKey } = control.dataset;
  return `${followEvent}|${follow}|${followKey || ""}`;
}

function base64UrlToBytes(text) {
  const padded = (text + "=".repeat((4 - (text.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

async function browserSubscription() {
  const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  await navigator.serviceWorker.ready;
  const existing = await registration.pushManager.getSubscription();
  if (existing) return existing.toJSON();
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    throw new Error("Notifications are blocked for this site: allow them in your browser's settings.");
  }
  const key = await (await fetch("/api/push/key", { credentials: "omit" })).json();
  const subscription = await registration.pushManager.subscribe({
    userVisibleOnly: true,
    applicationServerKey: base64UrlToBytes(key.public_key),
  });
  return subscription.toJSON();
}

async function follow(control) {
  const { followEvent, follow: kind, followKey } = control.dataset;
  const body = { subscription: await browserSubscription() };
  if (kind === "slot") body.slot_id = followKey;
  if (kind === "channel") body.channel = followKey;
  // No cookies: a follow belongs to the browser, never to a signed-in host's session.
  const response = await fetch(`/api/events/${encodeURIComponent(followEvent)}/follows`, {
    method: "POST",
    credentials: "omit",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.detail || `The server answered ${response.status}.`);
  return answer;
}

async function unfollow(follow) {
  // Same origin whatever public URL the link was made with.
  const path = new URL(follow.unfollow_url, window.location.href).pathname;
  const response = await fetch(path, { method: "DELETE", credentials: "omit" });
  if (!response.ok && response.status !== 404) throw new Error(`The server answered ${response.status}.`);
}

/** Show each control as "Notify me" or "Following · Stop" (call again for new controls). */
export function showFollows(root = document) {
  if (!pushSupported()) return;
  const all = remembered();
  root.querySelectorAll(controls).forEach((control) => {
    if (!control.dataset.followKey && control.dataset.follow !== "event") return;
    const following = Boolean(all[keyOf(control)]);
    control.hidden = false;
    control.querySelector("[data-follow-start]").hidden = following;
    control.querySelector("[data-follow-on]").hidden = !following;
  });
}

async function act(control, button) {
  const note = control.querySelector("[data-follow-note]");
  const key = keyOf(control);
  button.disabled = true;
  note.textContent = "";
  try {
    if (button.hasAttribute("data-follow-start")) {
      const answer = await follow(control);
      remember(key, { id: answer.id, unfollow_url: answer.unfollow_url });
      note.textContent = "You will be notified when it goes live or is cancelled.";
    } else {
      const known = remembered()[key];
      if (known) await unfollow(known);
      remember(key, null);
      note.textContent = "Notifications stopped.";
    }
  } catch (error) {
    note.textContent = error.message || String(error);
  } finally {
    button.disabled = false;
  }
  showFollows(control.parentElement || document);
  (control.querySelector("[data-follow-on]").hidden
    ? control.querySelector("[data-follow-start]")
    : control.querySelector("[data-follow-stop]")).focus();
}

/** Handle every "Notify me" and "Stop" of the page, present and future. */
export function setUpFollows() {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-follow-start], [data-follow-stop]");
    const control = button && button.closest(controls);
    if (control) act(control, button);
  });
  showFollows();
}
