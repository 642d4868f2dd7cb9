// The audit log: every admin action, newest first.

import { api } from "./api.js";
import { h, replace, table, when } from "./dom.js";

const describe = (details) => (details && typeof details === "object" ? Object.entries(details).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ") : details || "");

export async function render(main) {
  const rows = [];
  const body = h("div");
  const load = async (cursor) => {
    const params = new URLSearchParams({ limit: "100" });
    if (cursor) params.set("cursor", cursor);
    const page = await api("GET", `/api/audit?${params}`);
    rows.push(...(Array.isArray(page) ? page : page?.items || []));
    const next = Array.isArray(page) ? null : page?.next;
    replace(
      body,
      table(
        [
          { title: "When", cell: (e) => when(e.at ?? e.created_at ?? e.time) },
          { title: "Who", cell: (e) => e.actor || "" },
          { title: "Action", cell: (e) => h("code", {}, e.action || "") },
          { title: "Subject", cell: (e) => e.subject || e.target || "" },
          { title: "Details", cell: (e) => describe(e.details) },
          { title: "From", cell: (e) => e.address || e.ip || "" },
        ],
        rows,
        "Nothing recorded yet: actions by admins appear here.",
      ),
      next ? h("button", { type: "button", onclick: () => load(next) }, "Load more") : null,
    );
  };
  replace(main, h("h1", {}, "Audit log"), h("section", { class: "card" }, body));
  await load(null);
}
