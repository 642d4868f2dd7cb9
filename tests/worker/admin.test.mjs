// The admin API on the Worker inside the offline harness: the same route table, validation and handlers as
// the server (web/admin/), over D1, KV and R2, signed in through the first-run setup secret.
// Run with `npm run test:worker`.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createHarness } from "./harness.mjs";
import { makeZip } from "./zip.mjs";

const BASE = "http://broker.test";
const SETUP_SECRET = "worker-admin-api-setup-secret-42";
const PASSWORD = "correct horse battery staple";

let h;
let session; // { cookie, csrf }

before(async () => {
  h = await createHarness({ vars: { SETUP_SECRET } });
  await h.migrate();
  const response = await h.fetch(`${BASE}/api/setup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ secret: SETUP_SECRET, name: "admin", password: PASSWORD }),
  });
  assert.equal(response.status, 201, await response.clone().text());
  const cookie = response.headers.get("set-cookie").split(";")[0];
  session = { cookie, csrf: (await response.json()).csrf_token };
});
after(async () => h?.dispose());

/** A call as the signed-in admin (cookie, and the CSRF header on writes), with a JSON body if given. */
function call(method, path, { body, headers = {}, signedIn = true } = {}) {
  const sent = { ...headers };
  if (signedIn) {
    sent.cookie = session.cookie;
    if (method !== "GET") sent["x-csrf-token"] = session.csrf;
  }
  if (body !== undefined && !(body instanceof Uint8Array)) {
    sent["content-type"] = "application/json";
    body = JSON.stringify(body);
  }
  return h.fetch(`${BASE}${path}`, { method, headers: sent, body });
}

describe("the admin API on the Worker", () => {
  test("serves its OpenAPI 3.1 document and the reference page without scripts", async () => {
    const response = await call("GET", "/api/openapi.json", { signedIn: false });
    assert.equal(response.status, 200);
    const document = await response.json();
    assert.equal(document.openapi, "3.1.0");
    for (const path of ["/api/sources", "/api/tokens", "/api/packages", "/api/audit", "/api/stats", "/api/users"]) {
      assert.ok(document.paths[path], path);
    }
    const page = await call("GET", "/api/docs", { signedIn: false });
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy"), /default-src 'none'/);
    assert.doesNotMatch(await page.text(), /<script/);
  });

  test("refuses a caller without a session with the JSON error shape and no Basic challenge", async () => {
    const response = await call("GET", "/api/sources", { signedIn: false });
    assert.equal(response.status, 401);
    assert.equal(response.headers.get("www-authenticate"), null);
    const body = await response.json();
    assert.equal(body.error, "Unauthorized");
    assert.ok(body.message.length > 10);
  });

  test("lists sources", async () => {
    const response = await call("GET", "/api/sources");
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { items: [], next: null });
  });

  test("creates a token whose secret is shown once and works for Composer", async () => {
    const response = await call("POST", "/api/tokens", { body: { description: "worker CI", rate_limit: 100 } });
    assert.equal(response.status, 201, await response.clone().text());
    const { token, secret } = await response.json();
    assert.ok(secret.startsWith(token.token_prefix));
    const composer = await h.fetch(`${BASE}/packages.json`, {
      headers: { authorization: "Basic " + btoa(`token:${secret}`) },
    });
    assert.equal(composer.status, 200);
    const listed = await (await call("GET", "/api/tokens")).text();
    assert.ok(listed.includes(token.id) && !listed.includes(secret));
    const audit = await (await call("GET", "/api/audit?action=token.created")).json();
    assert.equal(audit.items[0].actor, "user:admin");
  });

  test("validates bodies into a 422 that names each field", async () => {
    const response = await call("POST", "/api/tokens", { body: { description: "", permission: "root" } });
    assert.equal(response.status, 422);
    const fields = (await response.json()).errors.map((p) => p.field).sort();
    assert.deepEqual(fields, ["body.description", "body.permission"]);
  });

  test("uploads a zip through the session and shows the package with its README from R2", async () => {
    const zip = makeZip({
      "composer.json": JSON.stringify({ name: "acme/worker-admin", description: "via the admin API" }),
      "README.md": "# Hello from R2",
    });
    const uploaded = await call("POST", "/api/packages?version=1.0.0", {
      body: zip,
      headers: { "content-type": "application/zip" },
    });
    assert.equal(uploaded.status, 201, await uploaded.clone().text());
    const page = await (await call("GET", "/api/packages?q=worker-admin")).json();
    assert.deepEqual(page.items.map((p) => p.name), ["acme/worker-admin"]);
    const shown = await (await call("GET", "/api/packages/acme/worker-admin")).json();
    assert.equal(shown.readme.text, "# Hello from R2");
    assert.equal(shown.versions[0].version, "1.0.0");
    const stats = await (await call("GET", "/api/stats")).json();
    assert.equal(stats.packages, 1);
    assert.ok(stats.storage_bytes > 0);
  });
});
