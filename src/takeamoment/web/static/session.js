// A session's page: times in the viewer's zone (times.js localises on import), "Notify me",
// and the session's status kept current from the event's live stream.

import "./times.js";
import { setUpFollows } from "./follow.js";
import { statusLabel } from "./slots.js";
import { EventStream } from "./stream.js";

const { event: slug, slot: slotId } = document.body.dataset;
const article = document.getElementById(`slot-${slotId}`);
const badge = document.querySelector("[data-session-status]");

function showStatus(slot) {
  if (!slot || slot.id !== slotId) return;
  article.dataset.status = slot.status;
  badge.textContent = statusLabel(slot);
  badge.classList.toggle("badge-live", slot.status === "live");
}

setUpFollows();
new EventStream(slug, {
  snapshot(message) {
    showStatus(message.slots.find((slot) => slot.id === slotId));
  },
  change(message) {
    showStatus(message.slot);
  },
  status() {},
}).start();
