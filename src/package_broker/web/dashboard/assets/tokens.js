// Composer tokens: create one (permission, grants, expiry, rate limit) and copy it once; change a token's rate
// limit, expiry or description (the troubleshooting page sends users here after a 429); revoke; last use.

import { api, everything, seg } from "./api.js";
import { canWrite, flash, showError } from "./app.js";
import { ago, badge, codeBlock, copyable, field, formValues, h, replace, table, when } from "./dom.js";

const list = (text) => (text || "").split(/[\s,]+/).filter(Boolean);

function state(token) {
  return badge(token.state || "active", token.state === "active" ? "ok" : token.state);
}

function grants(token) {
  const parts = [...(token.allowed_package_prefixes || []).map((p) => `${p}*`), ...(token.allowed_packages || [])];
  return parts.length ? parts.join(", ") : "all packages";
}

export async function render(main) {
  const tokens = await everything("/api/tokens");
  const columns = [
    { title: "Description", cell: (t) => t.description },
    { title: "Token", cell: (t) => h("code", {}, `${t.token_prefix || t.prefix || ""}…`) },
    { title: "Permission", cell: (t) => t.permission },
    { title: "Packages", cell: grants },
    { title: "Rate limit", cell: (t) => (t.effective_rate_limit === 0 ? "none" : `${t.effective_rate_limit ?? t.rate_limit}/h${t.rate_limit == null ? " (default)" : ""}`) },
    { title: "Expires", cell: (t) => (t.expires_at ? when(t.expires_at) : "never") },
    { title: "Last used", cell: (t) => ago(t.last_used_at) },
    { title: "State", cell: state },
  ];
  if (canWrite()) {
    columns.push({
      title: "",
      cell: (t) =>
        t.state === "revoked"
          ? null
          : h(
              "span",
              {},
              h("button", { type: "button", class: "small", "data-edit": t.id, onclick: () => showEdit(t, main) }, "Edit"),
              " ",
              h("button", { type: "button", class: "small danger", "data-revoke": t.id, onclick: () => revoke(t, main) }, "Revoke"),
            ),
    });
  }
  replace(
    main,
    h("h1", {}, "Tokens"),
    h("div", { id: "token-once" }),
    h("section", { class: "card" }, table(columns, tokens, canWrite() ? "No tokens yet. Create one below for each project or CI pipeline." : "No tokens yet.")),
    canWrite() ? createForm(main) : null,
  );
}

async function revoke(token, main) {
  if (!confirm(`Revoke "${token.description}"? Composer stops accepting it at once.`)) return;
  try {
    await api("DELETE", `/api/tokens/${seg(token.id)}`);
    await render(main);
    flash(`Revoked "${token.description}".`);
  } catch (error) {
    showError(error);
  }
}

/** A date input's value for a Unix time (local day), or "" for none. */
function dateValue(seconds) {
  if (!seconds) return "";
  const d = new Date(seconds * 1000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** Edit a token in place of the "shown once" panel: description, rate limit (empty: the broker's default), expiry. */
function showEdit(token, main) {
  const form = h(
    "form",
    { class: "card", id: "token-edit" },
    h("h2", {}, `Edit "${token.description}"`),
    field("Description", h("input", { name: "description", required: true, maxlength: "200", value: token.description, id: "edit-description" })),
    field(
      "Rate limit (requests per hour)",
      h("input", { name: "rate_limit", type: "number", min: "0", value: token.rate_limit == null ? "" : String(token.rate_limit), id: "edit-rate" }),
      "Empty: the broker's default. 0: no limit.",
    ),
    field("Expires on", h("input", { name: "expires", type: "date", value: dateValue(token.expires_at), id: "edit-expires" }), "Empty: never."),
    h("button", { type: "submit", class: "primary" }, "Save"),
    " ",
    h("button", { type: "button", onclick: () => replace(document.getElementById("token-once")) }, "Cancel"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const body = {
      description: values.description,
      rate_limit: values.rate_limit === undefined ? null : Number(values.rate_limit),
      expires_at: values.expires ? Math.floor(new Date(`${values.expires}T23:59:59`).getTime() / 1000) : null,
    };
    try {
      await api("PATCH", `/api/tokens/${seg(token.id)}`, body);
      await render(main);
      flash(`Saved "${values.description}".`);
    } catch (error) {
      showError(error);
    }
  });
  replace(document.getElementById("token-once"), form);
  document.getElementById("edit-rate").focus();
}

function createForm(main) {
  const form = h(
    "form",
    { class: "card", id: "token-create" },
    h("h2", {}, "Create a token"),
    field("Description", h("input", { name: "description", required: true, maxlength: "200", placeholder: "CI for acme/shop", id: "token-description" })),
    field(
      "Permission",
      h("select", { name: "permission", id: "token-permission" }, h("option", { value: "readonly" }, "readonly: install packages"), h("option", { value: "write" }, "write: also publish archives and trigger syncs")),
    ),
    field("Package prefixes (optional)", h("input", { name: "allowed_package_prefixes", placeholder: "acme/, acme/lib-", id: "token-prefixes" }), "Only packages whose names start so. Empty: every package."),
    field("Exact packages (optional)", h("input", { name: "allowed_packages", placeholder: "acme/lib, other/tool", id: "token-packages" })),
    field("Expires on (optional)", h("input", { name: "expires", type: "date", id: "token-expires" })),
    field("Rate limit (requests per hour, optional)", h("input", { name: "rate_limit", type: "number", min: "0", id: "token-rate" }), "Empty: the broker's default. 0: no limit."),
    h("button", { type: "submit", class: "primary" }, "Create token"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const body = { description: values.description, permission: values.permission || "readonly" };
    if (values.allowed_package_prefixes) body.allowed_package_prefixes = list(values.allowed_package_prefixes);
    if (values.allowed_packages) body.allowed_packages = list(values.allowed_packages);
    if (values.expires) body.expires_at = Math.floor(new Date(`${values.expires}T23:59:59`).getTime() / 1000);
    if (values.rate_limit) body.rate_limit = Number(values.rate_limit);
    try {
      const created = await api("POST", "/api/tokens", body);
      const about = await api("GET", "/").catch(() => null);
      await render(main);
      showOnce(created.secret, created.token, created.missing || [], about?.composer?.setup);
    } catch (error) {
      showError(error);
    }
  });
  return form;
}

/** The new token, shown once, with the Composer lines that use it. */
function showOnce(secret, token, missing, setup) {
  // The broker's own `composer config` lines (they know BASE_URL), with this token in them.
  const lines = (setup || [`composer config http-basic.${location.host} token <your-token>`]).map((line) => line.replace("<your-token>", secret));
  replace(
    document.getElementById("token-once"),
    h(
      "section",
      { class: "card once", id: "token-secret" },
      h("h2", {}, `Token "${token.description}" created`),
      h("p", {}, "Copy it now: it is shown only once and stored only as a hash."),
      missing.length
        ? h("p", { class: "flash-error", role: "alert" }, `It cannot see packages its packages require: ${missing.map((m) => `${m.name} (required by ${m.required_by.join(", ")})`).join("; ")}. Add them to its grants or installs will fail.`)
        : null,
      copyable(secret, "Copy token"),
      h("p", {}, "Use it in a project:"),
      codeBlock(lines.join("\n"), "Copy commands"),
    ),
  );
  document.querySelector("#token-secret input")?.focus();
}
