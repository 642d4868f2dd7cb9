// The admin API, as the dashboard uses it: JSON in and out, the session in an HttpOnly cookie, and the
// CSRF token (from the session) sent with every write. Errors become ApiError with the server's message.

let csrfToken = null;

export function setCsrf(token) {
  csrfToken = token || null;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || body?.warning || body?.error || `The broker answered ${status}.`);
    this.status = status;
    this.body = body || {};
  }
}

/** Call the API: api("GET", "/api/sources"), api("POST", "/api/tokens", {...}). */
export async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["x-csrf-token"] = csrfToken;
  let response;
  try {
    // Relative to the page ("/api/x" -> "api/x"), so a broker behind a proxy under a path prefix works too.
    response = await fetch(path.replace(/^\//, ""), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, { message: "The broker cannot be reached. Check the network and try again." });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: `The broker answered ${response.status} with something that is not JSON.` };
    }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Path segments in URLs: a package name keeps its slash, anything else is encoded. */
export const seg = (value) => encodeURIComponent(String(value));
export const pkgPath = (name) => String(name).split("/").map(seg).join("/");

/** Every item of a paged list (`{items, next}`), following `next` (at most `pages` pages of 200). */
export async function everything(path, pages = 50) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < pages; i++) {
    const params = new URLSearchParams({ limit: "200" });
    if (cursor) params.set("cursor", cursor);
    const page = await api("GET", `${path}?${params}`);
    items.push(...(page?.items || []));
    cursor = page?.next;
    if (!cursor) break;
  }
  return items;
}
