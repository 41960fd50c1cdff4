// This device's Web Push subscription: the service worker (/me/sw.js, scope /me), the
// server's VAPID key (GET /api/push/key), the browser's push service, then the subscription
// kept by the server (POST /api/me/push-subscriptions). Notices then reach a closed page.

import { ApiError, api } from "./api.js";

const WORKER = "/me/sw.js";
const SCOPE = "/me";

export function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(base64url.length / 4) * 4, "=");
  return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
}

/** This device's subscription, or null (no worker yet, or never subscribed). */
export async function currentSubscription() {
  if (!pushSupported()) return null;
  const registration = await navigator.serviceWorker.getRegistration(SCOPE);
  return registration ? registration.pushManager.getSubscription() : null;
}

/** Ask for permission, register the worker, subscribe and tell the server; throws in words. */
export async function turnOn() {
  if (!pushSupported()) {
    throw new Error("This browser cannot show notifications from a web page. Email still reaches you.");
  }
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    throw new Error("Notifications are blocked for this site. Allow them in the browser's site settings, then try again.");
  }
  const registration = await navigator.serviceWorker.register(WORKER, { scope: SCOPE });
  await navigator.serviceWorker.ready;
  const { public_key: publicKey } = await api("/api/push/key");
  let subscription;
  try {
    subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(publicKey),
    });
  } catch (error) {
    throw new Error(`This browser's push service could not be reached (${error.message || error.name}). Try again later; email still reaches you.`);
  }
  await api("/api/me/push-subscriptions", { method: "POST", body: subscription.toJSON() });
  return subscription;
}

/** Forget this device: at the push service and on the server. */
export async function turnOff() {
  const subscription = await currentSubscription();
  if (!subscription) return;
  try {
    await api("/api/me/push-subscriptions", { method: "DELETE", body: { endpoint: subscription.endpoint } });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
  }
  await subscription.unsubscribe();
}
