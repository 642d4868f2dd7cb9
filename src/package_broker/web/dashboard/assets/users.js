// Dashboard users: who may sign in, as admin (manages everything) or viewer (reads everything).

import { api, seg } from "./api.js";
import { canWrite, flash, showError } from "./app.js";
import { ago, badge, field, formValues, h, replace, table, when } from "./dom.js";

export async function render(main, session) {
  const listed = await api("GET", "/api/users");
  const users = Array.isArray(listed) ? listed : listed?.items || [];
  const columns = [
    { title: "Name", cell: (u) => u.name },
    { title: "Role", cell: (u) => badge(u.role, "role") },
    { title: "2FA", cell: (u) => (u.totp_enabled ? "on" : "off") },
    { title: "Created", cell: (u) => when(u.created_at) },
    { title: "Last sign-in", cell: (u) => ago(u.last_login_at) },
  ];
  if (canWrite()) {
    columns.push({
      title: "",
      cell: (u) => {
        if (u.name === session.user.name) return h("span", { class: "muted" }, "you");
        const role = h("select", { "aria-label": `Role of ${u.name}` }, ["viewer", "admin"].map((r) => h("option", { value: r, selected: r === u.role }, r)));
        role.addEventListener("change", async () => {
          try {
            await api("PATCH", `/api/users/${seg(u.name)}`, { role: role.value });
            flash(`${u.name} is now ${role.value}.`);
          } catch (error) {
            showError(error);
          }
        });
        const remove = h("button", { type: "button", class: "small danger" }, "Remove");
        remove.addEventListener("click", async () => {
          if (!confirm(`Remove ${u.name}? Their sessions end at once.`)) return;
          try {
            await api("DELETE", `/api/users/${seg(u.name)}`);
            await render(main, session);
            flash(`Removed ${u.name}.`);
          } catch (error) {
            showError(error);
          }
        });
        // For a user who lost their second factor and their recovery codes (on the Worker there is no CLI).
        const reset = u.totp_enabled ? h("button", { type: "button", class: "small", "data-reset-2fa": u.name }, "Turn off 2FA") : null;
        reset?.addEventListener("click", async () => {
          if (!confirm(`Turn off two-factor sign-in for ${u.name}? They sign in with their password alone until they turn it on again.`)) return;
          try {
            await api("PATCH", `/api/users/${seg(u.name)}`, { totp_enabled: false });
            await render(main, session);
            flash(`Two-factor sign-in is off for ${u.name}.`);
          } catch (error) {
            showError(error);
          }
        });
        return h("span", { class: "row" }, role, reset, remove);
      },
    });
  }
  replace(main, h("h1", {}, "Users"), h("section", { class: "card" }, table(columns, users, "No users.")), canWrite() ? createForm(main, session) : null);
}

function createForm(main, session) {
  const form = h(
    "form",
    { class: "card", id: "user-create" },
    h("h2", {}, "Add a user"),
    field("Name", h("input", { name: "name", required: true, maxlength: "64", autocomplete: "off", id: "user-name" })),
    field("Password", h("input", { name: "password", type: "password", required: true, minlength: "12", autocomplete: "new-password", id: "user-password" }), "At least 12 characters; they can change it on their Account page."),
    field("Role", h("select", { name: "role", id: "user-role" }, h("option", { value: "viewer" }, "viewer: reads everything"), h("option", { value: "admin" }, "admin: manages everything"))),
    h("button", { type: "submit", class: "primary" }, "Add user"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const values = formValues(form);
      await api("POST", "/api/users", values);
      await render(main, session);
      flash(`Added ${values.name}.`);
    } catch (error) {
      showError(error);
    }
  });
  return form;
}
