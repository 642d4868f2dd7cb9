// First-run setup, sign-in (with a 2FA code when the account has one) and the account page (password,
// two-factor authentication, signing out everywhere).

import { api, ApiError } from "./api.js";
import { flash, showError, signedIn } from "./app.js";
import { codeBlock, copyable, field, formValues, h, replace } from "./dom.js";

function submitting(form, busy) {
  for (const el of form.elements) if (el.type === "submit") el.disabled = busy;
  form.setAttribute("aria-busy", busy ? "true" : "false");
}

/** First run: the first admin, claimed with SETUP_SECRET (or told how to create it on the command line). */
export function setup(main, info) {
  if (info.method !== "secret") {
    replace(
      main,
      h("h1", {}, "Welcome to PACKAGE.broker"),
      h("p", {}, "No one can sign in yet. Create the first admin on the machine that runs the broker:"),
      codeBlock("package-broker user create admin --role admin"),
      h("p", { class: "muted" }, "Or set SETUP_SECRET and reload this page to create the first admin here."),
      h("button", { type: "button", onclick: () => location.reload() }, "Reload"),
    );
    return;
  }
  const form = h(
    "form",
    { class: "card narrow", id: "setup-form" },
    field("Setup secret", h("input", { name: "secret", type: "password", required: true, autocomplete: "off" }), "The SETUP_SECRET the broker was started with: only who runs it can claim the first admin."),
    field("Admin user name", h("input", { name: "name", required: true, autocomplete: "username", maxlength: "64" })),
    field("Password", h("input", { name: "password", type: "password", required: true, minlength: "12", autocomplete: "new-password" }), "At least 12 characters."),
    h("button", { type: "submit", class: "primary" }, "Create the first admin"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submitting(form, true);
    try {
      signedIn(await api("POST", "/api/setup", formValues(form)));
      flash("Welcome! Add a source next, then a token for Composer.");
    } catch (error) {
      showError(error);
    } finally {
      submitting(form, false);
    }
  });
  replace(main, h("h1", {}, "Welcome to PACKAGE.broker"), h("p", {}, "Create the first admin to start."), form);
  form.querySelector("input").focus();
}

/** The sign-in form; asks for a 2FA code when the server says the account needs one. */
export function login(main, message) {
  let needCode = false;
  const code = field(
    "Authentication code",
    h("input", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "32", id: "login-code" }),
    "The 6-digit code from your authenticator app, or one of your recovery codes.",
  );
  code.hidden = true;
  const form = h(
    "form",
    { class: "card narrow", id: "login-form" },
    field("User name", h("input", { name: "name", required: true, autocomplete: "username", id: "login-name" })),
    field("Password", h("input", { name: "password", type: "password", required: true, autocomplete: "current-password", id: "login-password" })),
    code,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    if (!needCode) delete values.code;
    submitting(form, true);
    try {
      signedIn(await api("POST", "/api/session", values));
    } catch (error) {
      if (error instanceof ApiError && error.status === 401 && error.body?.totp_required) {
        needCode = true;
        code.hidden = false;
        const input = code.querySelector("input");
        input.required = true;
        if (values.code) flash(error.message || "That code is not right; try the current one.", "error");
        else flash("Enter the code from your authenticator app.");
        input.focus();
      } else if (error instanceof ApiError && error.status === 429) {
        flash(error.message || "Too many attempts: wait a minute and try again.", "error");
      } else {
        showError(error);
      }
    } finally {
      submitting(form, false);
    }
  });
  replace(main, h("h1", {}, "Sign in"), form);
  if (message) flash(message);
}

/** The account page: change the password, turn two-factor authentication on or off, sign out everywhere. */
export const account = {
  async render(main, session) {
    const me = session.user;
    const password = h(
      "form",
      { class: "card" },
      h("h2", {}, "Password"),
      field("Current password", h("input", { name: "current", type: "password", required: true, autocomplete: "current-password" })),
      field("New password", h("input", { name: "new", type: "password", required: true, minlength: "12", autocomplete: "new-password" })),
      h("button", { type: "submit" }, "Change password"),
    );
    password.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("POST", "/api/me/password", formValues(password));
        password.reset();
        flash("Password changed.");
      } catch (error) {
        showError(error);
      }
    });

    const totp = h("section", { class: "card", id: "totp" });
    const renderTotp = (enabled) => {
      if (enabled) {
        const off = h(
          "form",
          {},
          h("p", {}, "Two-factor authentication is on."),
          field("Password", h("input", { name: "password", type: "password", required: true, autocomplete: "current-password" })),
          h("button", { type: "submit", class: "danger" }, "Turn off two-factor authentication"),
        );
        off.addEventListener("submit", async (event) => {
          event.preventDefault();
          try {
            await api("DELETE", "/api/me/totp", formValues(off));
            me.totp_enabled = false;
            renderTotp(false);
            flash("Two-factor authentication is off.");
          } catch (error) {
            showError(error);
          }
        });
        replace(totp, h("h2", {}, "Two-factor authentication"), off);
        return;
      }
      const start = h("button", { type: "button", class: "primary", id: "totp-start" }, "Set up two-factor authentication");
      start.addEventListener("click", async () => {
        try {
          const enrol = await api("POST", "/api/me/totp");
          const confirm = h(
            "form",
            {},
            h("p", {}, "Add this key to your authenticator app (or open the link on your phone), then enter the code it shows."),
            field("Key", copyable(enrol.secret, "Copy key")),
            h("p", {}, h("a", { href: String(enrol.otpauth_uri).startsWith("otpauth://") ? enrol.otpauth_uri : null, class: "mono", id: "totp-uri" }, "otpauth link")),
            field("Code", h("input", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true, id: "totp-code" })),
            h("button", { type: "submit", class: "primary" }, "Turn on"),
          );
          confirm.dataset.secret = enrol.secret;
          confirm.id = "totp-confirm";
          confirm.addEventListener("submit", async (event) => {
            event.preventDefault();
            try {
              const done = await api("POST", "/api/me/totp/confirm", formValues(confirm));
              me.totp_enabled = true;
              replace(
                totp,
                h("h2", {}, "Two-factor authentication is on"),
                h("p", {}, "Keep these recovery codes somewhere safe: each signs you in once if you lose your phone. They are shown only now."),
                codeBlock((done.recovery_codes || []).join("\n"), "Copy recovery codes"),
                h("button", { type: "button", onclick: () => renderTotp(true) }, "I have saved them"),
              );
            } catch (error) {
              showError(error);
            }
          });
          replace(totp, h("h2", {}, "Two-factor authentication"), confirm);
          confirm.querySelector("#totp-code").focus();
        } catch (error) {
          showError(error);
        }
      });
      replace(totp, h("h2", {}, "Two-factor authentication"), h("p", {}, "Off. Sign-in asks for a code from an authenticator app once it is on."), start);
    };
    renderTotp(Boolean(me.totp_enabled));

    const everywhere = h("button", { type: "button" }, "Sign out everywhere");
    everywhere.addEventListener("click", async () => {
      try {
        await api("POST", "/api/session/logout-all");
        location.reload();
      } catch (error) {
        showError(error);
      }
    });
    replace(
      main,
      h("h1", {}, "Account"),
      h("p", {}, `Signed in as ${me.name} (${me.role}).`),
      password,
      totp,
      h("section", { class: "card" }, h("h2", {}, "Sessions"), h("p", {}, "Ends every session of this account, on every device."), everywhere),
    );
  },
};
