// The console's calls to the JSON API. They authenticate with the HttpOnly session cookie the
// browser sends by itself, and carry the page's CSRF token in a header: the token is in a
// <meta> tag, because its cookie, like the session's, is out of scripts' reach.

export class ApiError extends Error {
  constructor(status, detail, extra) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.extra = extra;
  }
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** Call the API; resolves to the JSON answer, rejects with an ApiError carrying `detail`. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["x-csrftoken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "The server could not be reached. Check the connection and try again.");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const detail = (data && data.detail) || `${response.status} ${response.statusText}`.trim();
    throw new ApiError(response.status, detail, data && data.extra);
  }
  return data;
}

/** What to tell the host about a failed call, in words. */
export function explain(error) {
  if (!(error instanceof ApiError)) return (error && error.message) || String(error);
  const detail = error.detail.charAt(0).toUpperCase() + error.detail.slice(1);
  if (error.status === 401) return `${detail}. Sign in again to go on.`;
  if (error.status === 403 && /csrf/i.test(error.detail)) {
    return "This page's security token is no longer valid: reload the page and try again.";
  }
  return detail.endsWith(".") ? detail : `${detail}.`;
}
