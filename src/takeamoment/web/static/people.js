// The people directory: find creators and therapists, add and edit them, their licences and
// availability windows, send a sign-in link to their own page, issue a new token, delete them —
// all through the JSON API.

import { api } from "./api.js";
import { confirmAction } from "./confirm.js";
import { Messages, clearError, showError } from "./messages.js";
import { h } from "./slots.js";
import { fromLocalInput, toLocalInput } from "./zoned.js";

const messages = new Messages();
const list = document.querySelector("[data-people-list]");
const count = document.querySelector("[data-people-count]");
const searchForm = document.querySelector("[data-people-search]");
const dialog = document.getElementById("person-dialog");
const form = document.getElementById("person-form");
const errorBox = document.getElementById("person-error");
const extra = dialog.querySelector("[data-person-extra]");
const windowList = dialog.querySelector("[data-window-list]");
const windowForm = dialog.querySelector("[data-add-window]");
const tokenBox = document.querySelector("[data-token-box]");
const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
let current = null; // the person in the dialog; null while adding one
let searchTimer = null;

const personPath = (id, tail = "") => `/api/people/${encodeURIComponent(id)}${tail}`;
const zoneOf = (person) => person?.timezone || browserZone;

function licenceText(person) {
  if (!person.license) return person.role === "therapist" ? "No licence on file: cannot be booked yet" : "";
  const state = person.license.verified ? "Licence verified" : "Licence not verified yet: cannot be booked";
  return `${state} (${person.license.issuer}, expires ${person.license.expires_on})`;
}

function row(person) {
  const licence = licenceText(person);
  return h("li", { class: "person-row", "data-person": person.handle },
    h("div", { class: "person-main" },
      h("h2", { class: "person-title" }, `${person.name} `, h("span", { class: "handle" }, `@${person.handle}`)),
      h("p", { class: "person-meta" }, person.role === "therapist" ? "Therapist" : "Creator",
        person.timezone ? ` · ${person.timezone}` : "", person.email ? ` · ${person.email}` : ""),
      licence ? h("p", { class: `pill ${person.license?.verified ? "ok" : "warn"}` }, licence) : null),
    h("button", { type: "button", "data-open-person": person.id }, "Edit", h("span", { class: "visually-hidden" }, ` ${person.name}`)));
}

async function refresh() {
  const query = new URLSearchParams();
  if (searchForm.elements.q.value.trim()) query.set("q", searchForm.elements.q.value.trim());
  if (searchForm.elements.role.value) query.set("role", searchForm.elements.role.value);
  try {
    const people = await api(`/api/people?${query}`);
    list.replaceChildren(...people.map(row));
    count.textContent = people.length === 1 ? "1 person" : `${people.length} people`;
    return people;
  } catch (error) {
    messages.fail(error);
    return [];
  }
}

const TOKEN_WORDS = ["their sign-in token, shown only now. Send it to them privately.", "Token"];

function showToken(person, token, [what, label] = TOKEN_WORDS) {
  tokenBox.querySelector("[data-token-who]").textContent = person.name;
  tokenBox.querySelector("[data-token-what]").textContent = what;
  tokenBox.querySelector("[data-token-label]").textContent = label;
  tokenBox.querySelector("[data-token-value]").value = token;
  tokenBox.hidden = false;
}

function fill(person) {
  form.elements.name.value = person?.name || "";
  form.elements.handle.value = person?.handle || "";
  form.elements.role.value = person?.role || "creator";
  form.elements.role.disabled = Boolean(person);
  form.elements.email.value = person?.email || "";
  form.elements.timezone.value = person?.timezone || "";
  const licence = person?.license;
  form.elements.license_number.value = licence?.number || "";
  form.elements.license_issuer.value = licence?.issuer || "";
  form.elements.license_jurisdiction.value = licence?.jurisdiction || "";
  form.elements.license_expires_on.value = licence?.expires_on || "";
  showLicence(person);
}

function showLicence(person) {
  const therapist = form.elements.role.value === "therapist";
  const fieldset = form.querySelector("[data-licence]");
  fieldset.hidden = !therapist;
  form.querySelector("[data-licence-state]").textContent = person ? licenceText(person) : "";
  form.querySelector("[data-verify-licence]").hidden = !person?.license || person.license.verified;
}

async function open(id) {
  current = id ? await api(personPath(id)) : null;
  clearError(errorBox);
  fill(current);
  document.getElementById("person-dialog-title").textContent = current ? current.name : "New person";
  extra.hidden = !current;
  dialog.showModal();
  form.elements.name.focus();
  if (current) loadWindows();
}

function licenceBody() {
  const value = (name) => form.elements[name].value.trim();
  const fields = [value("license_number"), value("license_issuer"), value("license_jurisdiction"), value("license_expires_on")];
  if (fields.every((field) => !field)) return null;
  const [number, issuer, jurisdiction, expires] = fields;
  return { number, issuer, jurisdiction, expires_on: expires };
}

async function save(event) {
  event.preventDefault();
  clearError(errorBox);
  const body = {
    name: form.elements.name.value.trim(),
    handle: form.elements.handle.value.trim().replace(/^@/, ""),
    email: form.elements.email.value.trim() || null,
    timezone: form.elements.timezone.value.trim() || null,
  };
  const licence = form.elements.role.value === "therapist" ? licenceBody() : null;
  try {
    if (current) {
      const changed = await api(personPath(current.id), { method: "PATCH", body: { ...body, license: licence } });
      current = changed;
      showLicence(changed);
      messages.tell(`Saved ${changed.name}.`);
    } else {
      const created = await api("/api/people", { method: "POST", body: { ...body, role: form.elements.role.value, ...(licence ? { license: licence } : {}) } });
      current = created;
      showToken(created, created.token);
      messages.tell(`Added ${created.name}.`);
      fill(created);
      document.getElementById("person-dialog-title").textContent = created.name;
      extra.hidden = false;
      loadWindows();
    }
    await refresh();
  } catch (error) {
    showError(errorBox, error);
  }
}

async function verify() {
  try {
    current = await api(personPath(current.id, "/license/verify"), { method: "POST" });
    showLicence(current);
    messages.tell(`${current.name}'s licence is verified: they can be booked as a therapist.`);
    form.querySelector("[data-licence-state]").focus?.();
    await refresh();
  } catch (error) {
    showError(errorBox, error);
  }
}

function windowItem(window) {
  const zone = zoneOf(current);
  const text = `${toLocalInput(window.starts_at, zone).replace("T", " ")} to ${toLocalInput(window.ends_at, zone).replace("T", " ")}`;
  return h("li", { class: "window" }, h("span", {}, text),
    h("button", { type: "button", "data-remove-window": window.id }, "Remove", h("span", { class: "visually-hidden" }, ` the window ${text}`)));
}

async function loadWindows() {
  dialog.querySelector("[data-window-zone]").textContent = `Times in ${zoneOf(current)}${current.timezone ? " (their zone)" : " (your browser's zone: they have none)"}. With no window they are always available.`;
  try {
    const windows = await api(personPath(current.id, "/availability"));
    windowList.replaceChildren(...(windows.length ? windows.map(windowItem) : [h("li", { class: "quiet" }, "Always available.")]));
  } catch (error) {
    showError(errorBox, error);
  }
}

async function addWindow(event) {
  event.preventDefault();
  clearError(errorBox);
  const zone = zoneOf(current);
  const body = { starts_at: fromLocalInput(windowForm.elements.starts_at.value, zone), ends_at: fromLocalInput(windowForm.elements.ends_at.value, zone) };
  if (!body.starts_at || !body.ends_at) {
    showError(errorBox, new Error("Give the window's start and end, date and time."));
    return;
  }
  try {
    await api(personPath(current.id, "/availability"), { method: "POST", body });
    windowForm.reset();
    messages.tell("Added the window.");
    await loadWindows();
  } catch (error) {
    showError(errorBox, error);
  }
}

async function removeWindow(id) {
  clearError(errorBox);
  try {
    await api(personPath(current.id, `/availability/${encodeURIComponent(id)}`), { method: "DELETE" });
    messages.tell("Removed the window.");
    await loadWindows();
    windowForm.elements.starts_at.focus();
  } catch (error) {
    showError(errorBox, error);
  }
}

async function newToken() {
  const ok = await confirmAction({
    title: `A new token for ${current.name}?`,
    body: "Every earlier token of theirs stops working at once.",
    yes: "Issue a new token",
  });
  if (!ok) return;
  try {
    const { token } = await api(personPath(current.id, "/token"), { method: "POST" });
    dialog.close();
    showToken(current, token);
    messages.tell(`Issued a new token for ${current.name}; the old ones no longer work.`);
  } catch (error) {
    showError(errorBox, error);
  }
}

async function sendAccessLink() {
  try {
    const { url, expires_at: expires } = await api(personPath(current.id, "/access-link"), { method: "POST" });
    const until = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(new Date(expires));
    dialog.close();
    showToken(current, url, [`their sign-in link to their own page. It works once, until ${until}. Copy it and send it to them privately (email, message).`, "Sign-in link"]);
    messages.tell(`Made a sign-in link for ${current.name}.`);
    tokenBox.querySelector("[data-token-value]").focus();
  } catch (error) {
    showError(errorBox, error);
  }
}

async function remove() {
  const ok = await confirmAction({
    title: `Delete ${current.name}?`,
    body: "Their tokens, windows and past bookings go too. Someone with an upcoming booking cannot be deleted.",
    yes: "Delete",
  });
  if (!ok) return;
  try {
    await api(personPath(current.id), { method: "DELETE" });
    dialog.close();
    messages.tell(`Deleted ${current.name}.`);
    await refresh();
  } catch (error) {
    showError(errorBox, error);
  }
}

searchForm.addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
searchForm.elements.q.addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(refresh, 250); });
searchForm.elements.role.addEventListener("change", refresh);
document.querySelector("[data-new-person]").addEventListener("click", () => open(null));
list.addEventListener("click", (event) => {
  const button = event.target.closest("[data-open-person]");
  if (button) open(button.dataset.openPerson).catch((error) => messages.fail(error));
});
form.addEventListener("submit", save);
form.elements.role.addEventListener("change", () => showLicence(current));
form.querySelector("[data-verify-licence]").addEventListener("click", verify);
dialog.querySelector("[data-close-dialog]").addEventListener("click", () => dialog.close());
windowForm.addEventListener("submit", addWindow);
windowList.addEventListener("click", (event) => {
  const button = event.target.closest("[data-remove-window]");
  if (button) removeWindow(button.dataset.removeWindow);
});
dialog.querySelector("[data-issue-token]").addEventListener("click", newToken);
dialog.querySelector("[data-access-link]").addEventListener("click", sendAccessLink);
dialog.querySelector("[data-delete-person]").addEventListener("click", remove);
tokenBox.querySelector("[data-copy-token]").addEventListener("click", async () => {
  const input = tokenBox.querySelector("[data-token-value]");
  try {
    await navigator.clipboard.writeText(input.value);
    messages.tell("Copied.");
  } catch {
    input.select();
    messages.tell("Selected: press Ctrl+C (or ⌘C) to copy.");
  }
});
tokenBox.querySelector("[data-hide-token]").addEventListener("click", () => {
  tokenBox.hidden = true;
  tokenBox.querySelector("[data-token-value]").value = "";
});
refresh();
