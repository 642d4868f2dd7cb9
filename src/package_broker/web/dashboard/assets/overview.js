// Overview: counts, the health of each source, and a copy-paste quick start for Composer on this host.

import { api, everything } from "./api.js";
import { ago, badge, codeBlock, h, replace, table } from "./dom.js";

const LABELS = {
  packages: "Packages",
  versions: "Versions",
  sources: "Sources",
  tokens_active: "Active tokens",
  downloads_total: "Downloads",
  downloads_30_days: "Downloads (30 days)",
  storage_bytes: "Stored archives (MB)",
};
const SCALE = { storage_bytes: 1 / 1e6 };

/** The numbers /api/stats reports, as cards (nested objects flattened one level: {sources: {total: 3}}). */
function stats(data) {
  const cards = [];
  for (const [key, value] of Object.entries(data || {})) {
    if (typeof value === "number") cards.push([LABELS[key] || key.replaceAll("_", " "), Math.round(value * (SCALE[key] || 1) * 10) / 10]);
    else if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [inner, number] of Object.entries(value)) {
        if (typeof number === "number") cards.push([`${LABELS[key] || key} · ${inner.replaceAll("_", " ")}`, number]);
      }
    }
  }
  if (!cards.length) return h("p", { class: "empty" }, "No numbers yet.");
  return h("dl", { class: "stats" }, cards.map(([label, number]) => h("div", { class: "stat" }, h("dt", {}, label), h("dd", {}, number.toLocaleString()))));
}

export async function render(main, session) {
  const [statsData, sources, about] = await Promise.all([
    api("GET", "/api/stats").catch(() => null),
    everything("/api/sources"),
    api("GET", "/"),
  ]);
  const repository = about?.composer?.repository || location.origin;
  const host = new URL(repository).host;
  const setup = (about?.composer?.setup || []).join("\n");
  const authJson = JSON.stringify({ "http-basic": { [host]: { username: "token", password: "<your-token>" } } }, null, 4);
  replace(
    main,
    h("h1", {}, "Overview"),
    statsData ? stats(statsData) : null,
    h("section", { class: "card" },
      h("h2", {}, "Sources"),
      table(
        [
          { title: "Source", cell: (s) => h("a", { href: `#/sources/${encodeURIComponent(s.id)}` }, s.url || s.id) },
          { title: "Status", cell: (s) => [badge(s.status || "pending"), s.enabled === false ? badge("disabled") : null] },
          { title: "Last sync", cell: (s) => ago(s.last_synced_at) },
          { title: "Error", cell: (s) => (s.status === "ok" ? "" : s.status_message || "") },
        ],
        sources,
        session.user.role === "admin" ? "No sources yet: add one on the Sources page." : "No sources yet.",
      ),
    ),
    h("section", { class: "card" },
      h("h2", {}, "Quick start"),
      h("p", {}, "In a project, point Composer at this broker and give it a token (create one on the Tokens page):"),
      codeBlock(setup || `composer config repositories.package-broker composer ${repository}\ncomposer config http-basic.${host} token <your-token>`, "Copy commands"),
      h("p", {}, "Or put the token in auth.json next to composer.json (keep it out of version control):"),
      codeBlock(authJson, "Copy auth.json"),
    ),
  );
}
