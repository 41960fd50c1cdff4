// The console's webhooks: the event's list with each one's last result, add (the secret is
// shown once, here) and remove, all through the JSON API.

import { api, explain } from "./api.js";
import { h, timeElement } from "./slots.js";

const slug = document.body.dataset.event;
const table = document.getElementById("webhook-table");
const list = document.getElementById("webhook-list");
const empty = document.getElementById("webhook-empty");
const form = document.getElementById("webhook-form");
const secretBox = document.getElementById("webhook-secret");
const base = `/api/events/${encodeURIComponent(slug)}/webhooks`;

function lastResult(webhook) {
  const last = webhook.last_attempt;
  const pending = webhook.pending ? ` · ${webhook.pending} waiting` : "";
  if (!last) return ["Nothing sent yet", pending];
  const what = last.ok ? `Delivered (${last.status_code})` : `Failed: ${last.error || last.status_code}`;
  return [`${what}, try ${last.attempt}, `, timeElement(last.at), pending];
}

function row(webhook) {
  const remove = h("button", { type: "button", "data-webhook": webhook.id }, "Remove");
  remove.setAttribute("aria-label", `Remove the webhook to ${webhook.url}`);
  remove.addEventListener("click", () => removeWebhook(webhook));
  return h(
    "tr",
    { "data-webhook-row": webhook.id },
    h("td", {}, h("code", {}, webhook.url)),
    h("td", {}, webhook.types ? webhook.types.join(", ") : "All"),
    h("td", { "data-field": "last-result" }, ...lastResult(webhook)),
    h("td", {}, remove),
  );
}

function say(text, isError = false) {
  secretBox.replaceChildren(text);
  secretBox.className = isError ? "error" : "notice";
  secretBox.hidden = false;
}

async function refresh() {
  try {
    const webhooks = await api(base);
    list.replaceChildren(...webhooks.map(row));
    table.hidden = webhooks.length === 0;
    empty.hidden = webhooks.length !== 0;
    empty.textContent = "No webhooks yet.";
  } catch (error) {
    empty.textContent = explain(error);
  }
}

async function removeWebhook(webhook) {
  try {
    await api(`/api/webhooks/${encodeURIComponent(webhook.id)}`, { method: "DELETE" });
    say(`Removed the webhook to ${webhook.url}.`);
  } catch (error) {
    say(explain(error), true);
  }
  await refresh();
}

form.addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  const url = form.elements.url.value.trim();
  try {
    const created = await api(base, { method: "POST", body: { url } });
    form.reset();
    secretBox.replaceChildren(
      "Webhook added. Its signing secret, shown only now: ",
      h("code", { "data-field": "secret" }, created.secret),
    );
    secretBox.className = "notice";
    secretBox.hidden = false;
  } catch (error) {
    say(explain(error), true);
  }
  await refresh();
});

refresh();
