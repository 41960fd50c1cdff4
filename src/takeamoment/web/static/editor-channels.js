// The event's channels: add, rename, reorder, stream link, delete an empty one.

import { api } from "./api.js";
import { confirmAction } from "./confirm.js";
import { slugify } from "./editor-event.js";
import { h } from "./slots.js";

let ctx = null; // {slug, channels(), slotsOn(slug), changed(), tell(text), fail(error)}
const list = document.querySelector("[data-channel-list]");
const addForm = document.querySelector("[data-add-channel]");

const channelPath = (channel) => `/api/events/${encodeURIComponent(ctx.slug)}/channels/${encodeURIComponent(channel)}`;

function item(channel, index, count) {
  const id = `channel-${channel.slug}`;
  return h("li", { class: "channel-item", "data-channel": channel.slug },
    h("form", { class: "channel-form", "data-channel-form": channel.slug },
      h("div", { class: "field-row" },
        h("label", { for: `${id}-name` }, `Channel ${index + 1}: name`),
        h("input", { id: `${id}-name`, name: "name", value: channel.name, required: "", maxlength: "200", autocomplete: "off" })),
      h("div", { class: "field-row" },
        h("label", { for: `${id}-stream` }, "Stream link"),
        h("input", { id: `${id}-stream`, name: "stream_url", type: "url", value: channel.stream_url || "", maxlength: "2000", placeholder: "https://", autocomplete: "off" })),
      h("div", { class: "actions" },
        h("button", { type: "submit" }, "Save", h("span", { class: "visually-hidden" }, ` ${channel.name}`)),
        h("button", { type: "button", "data-channel-move": "-1", disabled: index === 0 }, "Move up", h("span", { class: "visually-hidden" }, ` ${channel.name}`)),
        h("button", { type: "button", "data-channel-move": "1", disabled: index === count - 1 }, "Move down", h("span", { class: "visually-hidden" }, ` ${channel.name}`)),
        h("button", { type: "button", class: "danger", "data-channel-delete": "" }, "Delete", h("span", { class: "visually-hidden" }, ` ${channel.name}`)))));
}

export function renderChannels() {
  if (list.contains(document.activeElement) && document.activeElement.tagName === "INPUT") return;
  const channels = ctx.channels();
  const focused = document.activeElement;
  const focusKey = list.contains(focused) ? [focused.closest("[data-channel]")?.dataset.channel, focused.textContent] : null;
  list.replaceChildren(...channels.map((channel, i) => item(channel, i, channels.length)));
  if (focusKey) {
    const again = [...list.querySelectorAll(`[data-channel="${CSS.escape(focusKey[0] || "")}"] button`)]
      .find((button) => button.textContent === focusKey[1] && !button.disabled);
    (again || list.querySelector("button"))?.focus();
  }
}

async function patch(slug, body, done) {
  try {
    await api(channelPath(slug), { method: "PATCH", body });
    await ctx.changed();
    ctx.tell(done);
  } catch (error) {
    ctx.fail(error);
  }
}

function uniqueSlug(name) {
  const base = slugify(name) || "channel";
  const taken = new Set(ctx.channels().map((c) => c.slug));
  let slug = base;
  for (let n = 2; taken.has(slug); n += 1) slug = `${base.slice(0, 60)}-${n}`;
  return slug;
}

export function setUpChannels(context) {
  ctx = context;
  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = addForm.elements.name.value.trim();
    if (!name) {
      ctx.fail(new Error("Give the channel a name."));
      return;
    }
    try {
      await api(`/api/events/${encodeURIComponent(ctx.slug)}/channels`, { method: "POST", body: { slug: uniqueSlug(name), name } });
      addForm.reset();
      await ctx.changed();
      ctx.tell(`Added the channel ${name}.`);
      addForm.elements.name.focus();
    } catch (error) {
      ctx.fail(error);
    }
  });
  list.addEventListener("submit", (event) => {
    const form = event.target.closest("[data-channel-form]");
    if (!form) return;
    event.preventDefault();
    const body = { name: form.elements.name.value.trim(), stream_url: form.elements.stream_url.value.trim() || null };
    document.activeElement?.blur?.();
    patch(form.dataset.channelForm, body, `Saved the channel ${body.name}.`);
  });
  list.addEventListener("click", async (event) => {
    const slug = event.target.closest("[data-channel]")?.dataset.channel;
    if (!slug) return;
    const move = event.target.closest("[data-channel-move]");
    const channels = ctx.channels();
    const index = channels.findIndex((c) => c.slug === slug);
    if (move) {
      const position = index + Number(move.dataset.channelMove);
      patch(slug, { position }, `${channels[index].name} is now channel ${position + 1}.`);
    } else if (event.target.closest("[data-channel-delete]")) {
      const count = ctx.slotsOn(slug);
      if (count) {
        ctx.fail(new Error(`${channels[index].name} still has ${count} slot(s): move or delete them first.`));
        return;
      }
      const ok = await confirmAction({ title: `Delete the channel ${channels[index].name}?`, body: "It has no slots. This cannot be undone.", yes: "Delete the channel" });
      if (!ok) return;
      try {
        await api(channelPath(slug), { method: "DELETE" });
        await ctx.changed();
        ctx.tell(`Deleted the channel ${channels[index].name}.`);
      } catch (error) {
        ctx.fail(error);
      }
    }
  });
}
