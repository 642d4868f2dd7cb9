// The dashboard's shell: who is signed in, the navigation, and a small hash router (#/sources, #/tokens ...)
// that renders one view into <main>. Views are modules; each exports `render(main, session, params)`.

import { api, ApiError, setCsrf } from "./api.js";
import { h, replace } from "./dom.js";
import * as auth from "./auth.js";
import * as overview from "./overview.js";
import * as sources from "./sources.js";
import * as tokens from "./tokens.js";
import * as packages from "./packages.js";
import * as users from "./users.js";
import * as audit from "./audit.js";

/** Route table: a pattern on the hash path -> the view and the title shown in the navigation. */
const ROUTES = [
  { path: /^\/$/, view: overview, title: "Overview", nav: "#/" },
  { path: /^\/sources$/, view: sources, title: "Sources", nav: "#/sources" },
  { path: /^\/sources\/([^/]+)$/, view: sources, title: "Sources", keys: ["source"] },
  { path: /^\/tokens$/, view: tokens, title: "Tokens", nav: "#/tokens" },
  { path: /^\/packages$/, view: packages, title: "Packages", nav: "#/packages" },
  { path: /^\/packages\/([^/]+\/[^/]+)$/, view: packages, title: "Packages", keys: ["package"] },
  { path: /^\/users$/, view: users, title: "Users", nav: "#/users" },
  { path: /^\/audit$/, view: audit, title: "Audit log", nav: "#/audit" },
  { path: /^\/account$/, view: auth.account, title: "Account" },
];

export const session = { user: null, csrf: null };

/** True for admins: viewers see every page, with no control that changes anything. */
export const canWrite = () => session.user?.role === "admin";

const main = () => document.getElementById("main");

let pending = null;

/** A message for the next view (shown after a navigation this action starts, which clears the current one). */
export function flashNext(message, kind = "ok") {
  pending = [message, kind];
}

/** A message at the top of the page: kind "ok" (status) or "error" (alert). */
export function flash(message, kind = "ok") {
  const box = document.getElementById("flash");
  replace(box, message ? h("p", { class: `flash flash-${kind}`, role: kind === "error" ? "alert" : null }, message) : null);
}

/** An error from the API, said plainly; a lost session goes back to the sign-in form. */
export function showError(error) {
  if (error instanceof ApiError && error.status === 401 && session.user) {
    signedOut("Your session ended. Sign in again.");
    return;
  }
  flash(error?.message || String(error), "error");
}

export function signedIn(data) {
  session.user = data.user;
  session.csrf = data.csrf_token;
  setCsrf(data.csrf_token);
  renderChrome();
  route();
}

function signedOut(message) {
  session.user = null;
  setCsrf(null);
  renderChrome();
  auth.login(main(), message);
}

function renderChrome() {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  if (!session.user) {
    nav.hidden = true;
    replace(nav);
    replace(who);
    return;
  }
  nav.hidden = false;
  const current = location.hash || "#/";
  replace(
    nav,
    h(
      "ul",
      {},
      ROUTES.filter((r) => r.nav).map((r) =>
        h("li", {}, h("a", { href: r.nav, "aria-current": current === r.nav || current.startsWith(r.nav + "/") && r.nav !== "#/" ? "page" : null }, r.title)),
      ),
    ),
  );
  replace(
    who,
    h("a", { href: "#/account", class: "user" }, session.user.name),
    h("span", { class: `badge badge-role` }, session.user.role),
    h("button", { type: "button", class: "link", onclick: logout }, "Sign out"),
  );
}

async function logout() {
  try {
    await api("DELETE", "/api/session");
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) return showError(error);
  }
  signedOut("Signed out.");
}

async function route() {
  if (!session.user) return;
  const path = (location.hash || "#/").slice(1) || "/";
  const [message, kind] = pending || [null];
  pending = null;
  flash(message, kind);
  renderChrome();
  for (const r of ROUTES) {
    const match = path.match(r.path);
    if (!match) continue;
    const params = Object.fromEntries((r.keys || []).map((k, i) => [k, decodeURIComponent(match[i + 1])]));
    document.title = `${r.title} · PACKAGE.broker`;
    // Each navigation renders into its own container: a view still loading when the user moves on (its API
    // calls slow) then writes into a container no longer on the page, never over the view that replaced it.
    const target = h("div", { class: "view" }, h("p", { class: "muted" }, "Loading…"));
    replace(main(), target);
    try {
      await r.view.render(target, session, params);
    } catch (error) {
      replace(target, h("h1", {}, r.title));
      if (target.isConnected) showError(error);
    }
    return;
  }
  replace(main(), h("h1", {}, "Not found"), h("p", {}, "Nothing is here. "), h("a", { href: "#/" }, "Back to the overview"));
}

async function boot() {
  window.addEventListener("hashchange", () => {
    route();
    main().focus({ preventScroll: true });
  });
  try {
    const setup = await api("GET", "/api/setup");
    if (setup?.needed) return auth.setup(main(), setup);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) return showError(error);
  }
  try {
    signedIn(await api("GET", "/api/session"));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signedOut();
    showError(error);
  }
}

boot();
