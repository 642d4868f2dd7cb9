// Sources: their status, last sync, errors and skipped refs; sync now; add and edit with the credential
// fields each kind needs; the webhook URL and a new secret (shown once).

import { api, everything, seg } from "./api.js";
import { canWrite, flash, flashNext, showError } from "./app.js";
import { ago, badge, busy, copyable, field, formValues, h, replace, table, when } from "./dom.js";

/** One entry per kind: what the add form asks for. A new kind is one entry here. */
export const KINDS = {
  composer: {
    title: "Composer repository",
    help: "packagist.org, Satis, Private Packagist, repo.magento.com or another broker.",
    target: { name: "url", label: "Repository URL", placeholder: "https://repo.packagist.org" },
    fields: [
      { name: "username", label: "User name (optional)", autocomplete: "off" },
      { name: "password", label: "Password (optional)", type: "password" },
      { name: "packages", label: "Only these packages (optional)", placeholder: "acme/lib, acme/tool", list: true },
    ],
  },
  git: {
    title: "Git repository",
    help: "Any git URL the server can clone (server only: the Worker cannot run git).",
    target: { name: "url", label: "Repository URL", placeholder: "https://git.example.com/acme/lib.git" },
    fields: [
      { name: "username", label: "User name (optional)", autocomplete: "off" },
      { name: "password", label: "Password or token (optional)", type: "password" },
      { name: "subdirectory", label: "Package directory (monorepos, optional)" },
    ],
  },
  github: {
    title: "GitHub",
    help: "A repository through GitHub's API; push webhooks make new tags installable within seconds.",
    target: { name: "repository", label: "Repository", placeholder: "acme/lib" },
    fields: [
      { name: "token", label: "Access token", type: "password" },
      { name: "api_url", label: "API URL (GitHub Enterprise only)", placeholder: "https://github.example.com/api/v3" },
      { name: "subdirectory", label: "Package directory (monorepos, optional)" },
    ],
  },
  gitlab: {
    title: "GitLab",
    help: "A project on gitlab.com or a self-hosted GitLab.",
    target: { name: "repository", label: "Project", placeholder: "group/project" },
    fields: [
      { name: "token", label: "Access token", type: "password" },
      { name: "api_url", label: "API URL (self-hosted only)", placeholder: "https://gitlab.example.com/api/v4" },
      { name: "subdirectory", label: "Package directory (monorepos, optional)" },
    ],
  },
  bitbucket: {
    title: "Bitbucket Cloud",
    help: "A repository in a Bitbucket workspace, read with an app password.",
    target: { name: "repository", label: "Repository", placeholder: "workspace/repo" },
    fields: [
      { name: "username", label: "Bitbucket user name", autocomplete: "off" },
      { name: "password", label: "App password", type: "password" },
      { name: "subdirectory", label: "Package directory (monorepos, optional)" },
    ],
  },
  gitea: {
    title: "Gitea / Forgejo",
    help: "A repository on a Gitea or Forgejo server.",
    target: { name: "repository", label: "Repository", placeholder: "owner/repo" },
    fields: [
      { name: "api_url", label: "API URL", placeholder: "https://gitea.example.com/api/v1", required: true },
      { name: "token", label: "Access token", type: "password" },
      { name: "subdirectory", label: "Package directory (monorepos, optional)" },
    ],
  },
};

const sourceName = (s) => s.url || s.id;
const lastSync = (s) => s.last_synced_at ?? null;
/** What went wrong, or what a partial sync still has to do. */
const errorOf = (s) => (s.status === "ok" ? null : s.status_message || null);
/** A provider source's webhook URL on this host (the API gives the path; the secret is never listed). */
const webhookUrl = (s) => (s.webhook_path ? `${location.origin}${s.webhook_path}` : null);

export async function render(main, session, params) {
  if (params.source) return detail(main, params.source);
  const sources = await everything("/api/sources");
  const list = table(
    [
      { title: "Source", cell: (s) => h("a", { href: `#/sources/${encodeURIComponent(s.id)}` }, sourceName(s)) },
      { title: "Kind", cell: (s) => KINDS[s.kind]?.title || s.kind },
      { title: "Status", cell: (s) => [badge(s.status || "pending"), s.enabled === false ? badge("disabled") : null] },
      { title: "Packages", cell: (s) => String(s.packages ?? "") },
      { title: "Last sync", cell: (s) => ago(lastSync(s)) },
      { title: "Error", cell: (s) => errorOf(s) || "" },
      { title: "", cell: (s) => (canWrite() ? syncButton(s, () => render(main, session, params)) : null) },
    ],
    sources,
    canWrite() ? "No sources yet. Add the first one below: Composer fetches packages through it." : "No sources yet.",
  );
  replace(
    main,
    h("h1", {}, "Sources"),
    h("section", { class: "card" }, list, canWrite() && sources.length > 1 ? syncAllButton(() => render(main, session, params)) : null),
    canWrite() ? addForm() : null,
  );
}

/** "Sync all", with progress, then how many synced and which failed. */
function syncAllButton(done) {
  const button = h("button", { type: "button", id: "sync-all" }, "Sync all sources");
  const slot = h("div", { class: "actions" }, button);
  button.addEventListener("click", async () => {
    button.disabled = true;
    const progress = busy("Syncing every source…");
    slot.appendChild(progress);
    try {
      const reports = (await api("POST", "/api/sources/sync"))?.reports || [];
      const failed = reports.filter((r) => r.status === "error");
      await done();
      flash(
        failed.length ? `${failed.length} of ${reports.length} sources failed: ${failed.map((r) => `${r.source_id}: ${r.message}`).join("; ")}` : `Synced ${reports.length} sources.`,
        failed.length ? "error" : "ok",
      );
    } catch (error) {
      showError(error);
      button.disabled = false;
      progress.remove();
    }
  });
  return slot;
}

/** "Sync now", with a progress bar while the sync runs and its result afterwards. */
function syncButton(source, done) {
  const button = h("button", { type: "button", class: "small", "data-sync": source.id }, "Sync now");
  button.addEventListener("click", async () => {
    const slot = button.parentElement;
    button.disabled = true;
    const progress = busy(`Syncing ${sourceName(source)}…`);
    slot.appendChild(progress);
    try {
      const result = await api("POST", `/api/sources/${seg(source.id)}/sync`);
      const report = result?.reports?.[0] || {};
      const status = report.status || "ok";
      await done();
      const versions = report.versions ? ` (${report.versions} versions)` : "";
      flash(
        status === "error"
          ? `Sync of ${sourceName(source)} failed: ${report.message || "see its error"}`
          : status === "busy"
            ? `${sourceName(source)} is being synced already; reload in a moment.`
            : `Synced ${sourceName(source)}${versions}${report.message ? `: ${report.message}` : "."}`,
        status === "error" ? "error" : "ok",
      );
    } catch (error) {
      showError(error);
      button.disabled = false;
      progress.remove();
    }
  });
  return button;
}

function addForm() {
  const kind = h("select", { name: "kind", id: "source-kind" }, Object.entries(KINDS).map(([k, v]) => h("option", { value: k }, v.title)));
  const fields = h("div", { class: "kind-fields" });
  const showKind = () => {
    const spec = KINDS[kind.value];
    replace(
      fields,
      h("p", { class: "muted" }, spec.help),
      field(spec.target.label, h("input", { name: spec.target.name, required: true, placeholder: spec.target.placeholder, id: "source-target" })),
      spec.fields.map((f) =>
        field(f.label, h("input", { name: f.name, type: f.type || "text", placeholder: f.placeholder, required: f.required, autocomplete: f.autocomplete || (f.type === "password" ? "new-password" : "off") })),
      ),
    );
  };
  kind.addEventListener("change", showKind);
  showKind();
  const form = h("form", { class: "card", id: "source-add" }, h("h2", {}, "Add a source"), field("Kind", kind), fields, h("label", { class: "check" }, h("input", { type: "checkbox", name: "sync", id: "source-sync" }), " Sync it right away"), h("button", { type: "submit", class: "primary" }, "Add source"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const spec = KINDS[kind.value];
    const values = formValues(form);
    for (const f of spec.fields) if (f.list && values[f.name]) values[f.name] = values[f.name].split(/[\s,]+/).filter(Boolean);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const progress = busy("Adding the source…");
    form.appendChild(progress);
    try {
      const added = await api("POST", "/api/sources", values);
      const source = added?.source || added;
      sessionStorage.setItem("pb-once", JSON.stringify({ id: source.id, webhook: added?.webhook || null }));
      const report = added?.sync;
      if (report) flashNext(`Added. First sync: ${report.status}${report.message ? ` (${report.message})` : ""}.`, report.status === "error" ? "error" : "ok");
      else flashNext("Added. Sync it now, or the scheduler will.");
      location.hash = `#/sources/${encodeURIComponent(source.id)}`;
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
      progress.remove();
    }
  });
  return form;
}

/** The webhook URL and secret, shown once, after adding a provider source or asking for a new secret. */
function webhookOnce(hook) {
  if (!hook?.url) return null;
  return h(
    "section",
    { class: "card once", id: "webhook-once" },
    h("h2", {}, "Push webhook"),
    h("p", {}, "Add this webhook to the repository (push and tag events). The secret is shown only now."),
    field("Payload URL", copyable(hook.url, "Copy URL")),
    hook.secret ? field("Secret", copyable(hook.secret, "Copy secret")) : null,
  );
}

async function detail(main, id) {
  const data = await api("GET", `/api/sources/${seg(id)}`);
  const source = data.source;
  const stored = JSON.parse(sessionStorage.getItem("pb-once") || "null");
  let once = null;
  if (stored?.id === source.id) {
    sessionStorage.removeItem("pb-once");
    once = webhookOnce(stored.webhook);
  }
  const reload = () => detail(main, id);
  const skipped = (data.refs || []).filter((r) => r.status !== "ok");
  const packages = data.served || [];
  const facts = [
    ["Kind", KINDS[source.kind]?.title || source.kind],
    ["URL", source.url],
    ["Status", badge(source.status || "pending")],
    ["Enabled", source.enabled === false ? "no" : "yes"],
    ["Last sync", when(lastSync(source))],
    ["Refs read", `${data.refs_read ?? 0} (${data.refs_skipped ?? 0} skipped)`],
    ["Credentials", source.has_credentials ? "stored (encrypted)" : "none"],
    ["Sync interval", source.sync_interval ? `${source.sync_interval} s` : "the broker's default"],
    ["Last error", errorOf(source) || "none"],
    ["Webhook URL", webhookUrl(source) ? copyable(webhookUrl(source), "Copy URL") : "none (not a provider source)"],
  ];
  const parts = [
    h("p", {}, h("a", { href: "#/sources" }, "← All sources")),
    h("h1", {}, sourceName(source)),
    once,
    h("section", { class: "card" }, h("dl", { class: "facts" }, facts.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v)))), canWrite() ? h("div", { class: "actions" }, syncButton(source, reload)) : null),
    h(
      "section",
      { class: "card" },
      h("h2", {}, "Packages"),
      packages.length
        ? h("ul", { id: "source-packages" }, packages.map((p) => h("li", {}, h("a", { href: `#/packages/${p.name}` }, p.name), ` (${p.versions} ${p.versions === 1 ? "version" : "versions"})`)))
        : h("p", { class: "empty" }, "No packages from this source yet: they appear after its first successful sync."),
    ),
    h(
      "section",
      { class: "card" },
      h("h2", {}, "Skipped refs"),
      table(
        [
          { title: "Ref", cell: (r) => r.ref },
          { title: "Why", cell: (r) => r.reason || "" },
        ],
        skipped,
        "Nothing was skipped.",
      ),
    ),
    h(
      "section",
      { class: "card", id: "source-runs" },
      h("h2", {}, "Recent syncs"),
      table(
        [
          { title: "Finished", cell: (r) => when(r.finished_at) },
          { title: "Took", cell: (r) => `${Math.max(0, r.finished_at - r.started_at)} s` },
          { title: "Outcome", cell: (r) => badge(r.status, r.status === "ok" ? "ok" : r.status) },
          { title: "Message", cell: (r) => r.message || "" },
        ],
        data.runs || [],
        "No sync has run yet.",
      ),
    ),
    data.history?.length
      ? h("section", { class: "card" }, h("h2", {}, "Manual syncs"), h("ul", {}, data.history.map((e) => h("li", {}, `${when(e.at)} by ${e.actor}`))))
      : null,
  ];
  if (canWrite()) parts.push(editForm(source, reload));
  replace(main, ...parts);
}

function editForm(source, reload) {
  const spec = KINDS[source.kind];
  const secretFields = (spec?.fields || []).filter((f) => ["username", "password", "token"].includes(f.name));
  if (source.kind === "artifact") return null;
  const form = h(
    "form",
    { class: "card", id: "source-edit" },
    h("h2", {}, "Edit"),
    source.kind === "git" || source.kind === "composer" ? field("URL", h("input", { name: "url", value: source.url || "" })) : null,
    secretFields.map((f) => field(`New ${f.label.replace(" (optional)", "").toLowerCase()}`, h("input", { name: f.name, type: f.type || "text", autocomplete: "new-password" }), "Leave empty to keep the stored one.")),
    source.has_credentials ? h("label", { class: "check" }, h("input", { type: "checkbox", name: "forget_credentials" }), " Forget the stored credentials") : null,
    field("Sync interval (seconds)", h("input", { name: "sync_interval", type: "number", min: "60", value: source.sync_interval ?? "" }), "Empty: the broker's default."),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "enabled", checked: source.enabled !== false }), " Enabled (scheduled syncs; what it serves stays served either way)"),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    if (values.sync_interval) values.sync_interval = Number(values.sync_interval);
    if (values.url === source.url) delete values.url;
    if (!values.forget_credentials) delete values.forget_credentials;
    if (values.username && !values.password) delete values.username;
    try {
      await api("PATCH", `/api/sources/${seg(source.id)}`, values);
      flash("Saved.");
      await reload();
    } catch (error) {
      showError(error);
    }
  });
  const danger = h("section", { class: "card" }, h("h2", {}, "Danger zone"));
  if (source.webhook_path) {
    const rotate = h("button", { type: "button" }, "New webhook secret");
    rotate.addEventListener("click", async () => {
      if (!confirm("The old secret stops working at once: update the webhook in the repository too.")) return;
      try {
        const hook = await api("POST", `/api/sources/${seg(source.id)}/webhook`);
        danger.before(webhookOnce(hook));
      } catch (error) {
        showError(error);
      }
    });
    danger.append(h("p", {}, "A new webhook secret replaces the old one."), rotate);
  }
  const remove = h("button", { type: "button", class: "danger" }, "Remove source");
  remove.addEventListener("click", async () => {
    if (!confirm(`Remove ${sourceName(source)}? Its packages stop being served; archives already mirrored stay downloadable.`)) return;
    try {
      await api("DELETE", `/api/sources/${seg(source.id)}`);
      flashNext("Source removed.");
      location.hash = "#/sources";
    } catch (error) {
      showError(error);
    }
  });
  danger.append(h("p", {}, "Removing a source stops serving its packages."), remove);
  return h("div", {}, form, danger);
}
