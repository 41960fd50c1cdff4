// takeamoment's service worker: shows Web Push notices (a followed session going live or
// cancelled, or a creator's or therapist's own notice) and opens their page when clicked.
// Served at /sw.js so that its scope covers every page of the site.

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : "" };
  }
  const actions = [];
  if (data.type === "slot.live" && data.stream_url) actions.push({ action: "watch", title: "Watch" });
  if (data.unfollow_url) actions.push({ action: "unfollow", title: "Stop these" });
  event.waitUntil(self.registration.showNotification(data.title || "takeamoment", {
    body: data.body || "",
    // The same notice sent twice (after a crash) replaces the first.
    tag: data.id || undefined,
    icon: "/static/favicon.svg",
    data,
    actions,
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  let url = data.url || "/";
  if (event.action === "watch" && data.stream_url) url = data.stream_url;
  if (event.action === "unfollow" && data.unfollow_url) url = data.unfollow_url;
  event.waitUntil(self.clients.openWindow(url));
});
