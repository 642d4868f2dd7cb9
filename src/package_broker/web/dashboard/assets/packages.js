// Packages: search, then one package's versions, README (as text), `composer require` line and downloads.

import { api, pkgPath, seg } from "./api.js";
import { canWrite, flash, showError } from "./app.js";
import { badge, codeBlock, h, replace, table, when } from "./dom.js";

export async function render(main, session, params) {
  if (params.package) return detail(main, params.package);
  const query = new URLSearchParams(location.hash.split("?")[1] || "").get("q") || "";
  const results = h("div", { id: "package-results" });
  const input = h("input", { type: "search", name: "q", value: query, placeholder: "acme/", "aria-label": "Search packages", id: "package-search" });
  const form = h("form", { class: "search", role: "search" }, input, h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    search(results, input.value.trim());
  });
  replace(main, h("h1", {}, "Packages"), form, results);
  await search(results, query);
}

async function search(results, q, cursor = null, rows = []) {
  const params = new URLSearchParams({ limit: "50" });
  if (q) params.set("q", q);
  if (cursor) params.set("cursor", cursor);
  const page = await api("GET", `/api/packages?${params}`);
  rows = rows.concat(page.items || []);
  const more = page.next ? h("button", { type: "button", onclick: () => search(results, q, page.next, rows).catch(showError) }, "Load more") : null;
  replace(
    results,
    table(
      [
        { title: "Package", cell: (p) => h("a", { href: `#/packages/${p.name}` }, p.name) },
        { title: "Description", cell: (p) => p.description || "" },
        { title: "Versions", cell: (p) => `${p.versions}${p.dev_versions ? ` + ${p.dev_versions} dev` : ""}` },
        { title: "Downloads", cell: (p) => String(p.downloads ?? "") },
      ],
      rows,
      q ? `No package matches "${q}".` : "No packages yet: add a source and sync it.",
    ),
    more,
  );
}

/** A tiny, safe view of a README: headings, code blocks and paragraphs as text; no HTML, no links followed. */
export function readme(text) {
  const out = [];
  const lines = String(text).split("\n");
  let para = [];
  const flush = () => {
    if (para.length) out.push(h("p", {}, para.join(" ")));
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("```")) {
      flush();
      const code = [];
      for (i++; i < lines.length && !lines[i].startsWith("```"); i++) code.push(lines[i]);
      out.push(h("pre", { class: "code" }, code.join("\n")));
    } else if (/^#{1,6}\s/.test(line)) {
      flush();
      const level = Math.min(6, line.match(/^#+/)[0].length + 2);
      out.push(h(`h${level}`, {}, line.replace(/^#+\s*/, "")));
    } else if (/^\s*[-*]\s+/.test(line)) {
      flush();
      out.push(h("p", { class: "li" }, "• " + line.replace(/^\s*[-*]\s+/, "")));
    } else if (!line.trim()) {
      flush();
    } else {
      para.push(line.trim());
    }
  }
  flush();
  return h("div", { class: "readme" }, out);
}

async function detail(main, name) {
  const pkg = await api("GET", `/api/packages/${pkgPath(name)}`);
  const versions = pkg.versions || [];
  const columns = [
    { title: "Version", cell: (v) => h("code", {}, v.version) },
    { title: "Released", cell: (v) => (v.released_at ? when(v.released_at) : "unknown") },
    { title: "Reference", cell: (v) => h("code", {}, String(v.reference || "").slice(0, 12)) },
    { title: "Downloads", cell: (v) => String(v.downloads ?? "") },
    { title: "", cell: (v) => (v.hidden ? badge("hidden", "disabled") : null) },
  ];
  if (canWrite()) {
    columns.push({
      title: "",
      cell: (v) => {
        if (v.hidden) {
          const restore = h("button", { type: "button", class: "small" }, "Restore");
          restore.addEventListener("click", async () => {
            try {
              await api("POST", `/api/packages/${pkgPath(name)}/versions/${seg(v.version)}/restore`);
              flash(`Restored ${name} ${v.version}.`);
              await detail(main, name);
            } catch (error) {
              showError(error);
            }
          });
          return restore;
        }
        const button = h("button", { type: "button", class: "small danger" }, "Delete");
        button.addEventListener("click", async () => {
          if (!confirm(`Delete ${name} ${v.version}? Composer stops offering it; lock files naming it stop installing.`)) return;
          try {
            await api("DELETE", `/api/packages/${pkgPath(name)}/versions/${seg(v.version)}`);
            flash(`Deleted ${name} ${v.version}.`);
            await detail(main, name);
          } catch (error) {
            showError(error);
          }
        });
        return button;
      },
    });
  }
  replace(
    main,
    h("p", {}, h("a", { href: "#/packages" }, "← All packages")),
    h("h1", {}, pkg.name || name),
    pkg.description ? h("p", { class: "lead" }, pkg.description) : null,
    h("section", { class: "card" }, h("h2", {}, "Install"), codeBlock(`composer require ${pkg.name || name}`, "Copy")),
    h("p", {}, `Source: `, h("a", { href: `#/sources/${encodeURIComponent(pkg.source_id)}` }, pkg.source_url || pkg.source_id), ` · Downloads: ${pkg.downloads}`),
    h("section", { class: "card" }, h("h2", {}, "Versions"), table(columns, versions, "No versions: the source has none that Composer can install.")),
    h("section", { class: "card" }, h("h2", {}, "README"), pkg.readme ? [h("p", { class: "muted" }, `${pkg.readme.filename} of ${pkg.readme.version}${pkg.readme.truncated ? " (cut short)" : ""}`), readme(pkg.readme.text)] : h("p", { class: "empty" }, "This package has no README.")),
  );
}
