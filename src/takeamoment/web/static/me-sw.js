// The service worker of a person's page (served as /me/sw.js, scope /me): it shows each Web Push
// notice — the same JSON as on /ws/me, with title, body and url — even with the page closed, and
// a click opens the notice's link, in a tab of ours that is already open when there is one.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let notice = {};
  try {
    notice = event.data ? event.data.json() : {};
  } catch {
    notice = { body: event.data ? event.data.text() : "" };
  }
  const title = notice.title || "takeamoment";
  event.waitUntil(
    self.registration.showNotification(title, {
      body: notice.body || "",
      tag: notice.id || undefined, // the same notice twice replaces, never stacks
      icon: "/static/favicon.svg",
      data: { url: notice.url || "/me" },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL(event.notification.data?.url || "/me", self.location.origin);
  // Only our own pages: a payload can never send the person elsewhere.
  const url = target.origin === self.location.origin ? target.href : new URL("/me", self.location.origin).href;
  event.waitUntil(
    (async () => {
      const open = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const same = open.find((client) => client.url === url);
      if (same) return same.focus();
      return self.clients.openWindow(url);
    })(),
  );
});
