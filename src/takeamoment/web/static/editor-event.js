// The event's details form: creates a draft (new-event page) or saves the details (editor).
// Times are typed on the chosen zone's clock and sent as instants.

import { api } from "./api.js";
import { clearError, showError } from "./messages.js";
import { fromLocalInput, toLocalInput } from "./zoned.js";

const form = document.getElementById("event-form");
const errorBox = document.getElementById("event-form-error");
const isNew = form.dataset.mode === "new";
const zoneInput = form.elements.timezone;
const zones = new Set([...document.querySelectorAll("#zones option")].map((option) => option.value));

export function slugify(text) {
  return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64).replace(/-+$/, "");
}

function showTimes() {
  for (const input of [form.elements.starts_at, form.elements.ends_at]) {
    if (input.dataset.iso && zones.has(zoneInput.value)) input.value = toLocalInput(input.dataset.iso, zoneInput.value);
  }
}

function setUpSlug() {
  const slug = form.elements.slug;
  const preview = form.querySelector("[data-slug-preview]");
  let typed = false;
  slug.addEventListener("input", () => { typed = slug.value !== ""; preview.textContent = slug.value || "…"; });
  const suggest = () => {
    if (typed) return;
    slug.value = slugify(form.elements.title.value);
    preview.textContent = slug.value || "…";
  };
  form.elements.title.addEventListener("input", suggest);
  suggest(); // a title typed before this script ran
}

function setUpHelplines() {
  const list = form.querySelector("[data-helplines]");
  const template = document.getElementById("helpline-template");
  form.querySelector("[data-add-helpline]").addEventListener("click", () => {
    const fields = template.content.firstElementChild.cloneNode(true);
    list.append(fields);
    fields.querySelector("input").focus();
  });
  list.addEventListener("click", (event) => {
    const remove = event.target.closest("[data-remove-helpline]");
    if (!remove) return;
    remove.closest("[data-helpline]").remove();
    form.querySelector("[data-add-helpline]").focus();
  });
}

function helplines() {
  return [...form.querySelectorAll("[data-helpline]")].map((fieldset) => {
    const value = (name) => fieldset.querySelector(`[name="${name}"]`).value.trim() || null;
    return { name: value("name") || "", phone: value("phone"), url: value("url"), region: value("region"), description: value("description") };
  });
}

function numbers(text) {
  return text.split(/[\s,;]+/).filter(Boolean).map(Number);
}

/** The body to send, or a list of what to fix first. */
function collect() {
  const problems = [];
  const zone = zoneInput.value.trim();
  if (!form.elements.title.value.trim()) problems.push("Give the event a title.");
  if (isNew && !/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/.test(form.elements.slug.value)) {
    problems.push("The address may hold only small letters, digits and dashes (not at either end).");
  }
  if (!zones.has(zone)) problems.push("Choose a time zone from the list, e.g. Europe/London.");
  const startsAt = zones.has(zone) ? fromLocalInput(form.elements.starts_at.value, zone) : null;
  const endsAt = zones.has(zone) ? fromLocalInput(form.elements.ends_at.value, zone) : null;
  if (zones.has(zone) && (!startsAt || !endsAt)) problems.push("Give both the start and the end, date and time.");
  else if (startsAt && endsAt && endsAt <= startsAt) problems.push("The end must come after the start.");
  const reminders = numbers(form.elements.reminder_minutes.value);
  if (reminders.some((n) => !Number.isInteger(n) || n < 1)) problems.push("Reminders are whole numbers of minutes, such as 15, 5.");
  const lines = helplines();
  if (lines.some((line) => !line.name)) problems.push("Each helpline needs a name.");
  const body = {
    title: form.elements.title.value.trim(),
    timezone: zone,
    starts_at: startsAt,
    ends_at: endsAt,
    changeover_minutes: Number(form.elements.changeover_minutes.value || 0),
    reminder_minutes: reminders,
    hashtags: form.elements.hashtags.value.split(/\s+/).filter(Boolean),
    description: form.elements.description.value,
    safety_resources: lines,
  };
  if (isNew) body.slug = form.elements.slug.value;
  return { body, problems };
}

async function submit(event) {
  event.preventDefault();
  clearError(errorBox);
  const { body, problems } = collect();
  if (problems.length) {
    showError(errorBox, new Error(problems.join(" ")));
    return;
  }
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    if (isNew) {
      const created = await api("/api/events", { method: "POST", body });
      location.assign(`/host/events/${encodeURIComponent(created.slug)}/edit`);
      return;
    }
    const slug = form.elements.slug.value;
    const saved = await api(`/api/events/${encodeURIComponent(slug)}`, { method: "PATCH", body });
    form.dispatchEvent(new CustomEvent("event-saved", { detail: saved, bubbles: true }));
  } catch (error) {
    showError(errorBox, error);
  } finally {
    button.disabled = false;
  }
}

/** Show an event's details again (after a change made elsewhere). */
export function fillEventForm(event) {
  if (form.contains(document.activeElement)) return; // never under the host's fingers
  form.elements.title.value = event.title;
  zoneInput.value = event.timezone;
  form.elements.starts_at.dataset.iso = event.starts_at;
  form.elements.ends_at.dataset.iso = event.ends_at;
  form.elements.changeover_minutes.value = event.changeover_minutes;
  form.elements.reminder_minutes.value = event.reminder_minutes.join(", ");
  form.elements.hashtags.value = event.hashtags.join(" ");
  form.elements.description.value = event.description;
  showTimes();
}

if (isNew) setUpSlug();
setUpHelplines();
showTimes();
zoneInput.addEventListener("change", showTimes);
form.addEventListener("submit", submit);
