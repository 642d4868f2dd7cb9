// The dashboard's files on the Worker: the deploy bundle carries them (wrangler.toml's [[rules]] packs them
// as Text modules, mounted under /session/metadata like the Python modules) and the Worker serves exactly
// the bytes in src/, with the same headers as the server (tests/browser/test_serving.py checks those there).

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { ROOT, createHarness } from "./harness.mjs";

const BASE = "http://broker.test";
const ASSETS = path.join(ROOT, "src/package_broker/web/dashboard/assets");
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

let h;
before(async () => {
  h = await createHarness();
  await h.migrate();
});
after(async () => h?.dispose());

test("the bundle holds every dashboard file, byte for byte", () => {
  const bundled = path.join(h.bundleDir, "package_broker/web/dashboard/assets");
  const names = fs.readdirSync(ASSETS).sort();
  assert.ok(names.includes("app.js") && names.includes("app.css") && names.includes("index.html"));
  assert.deepEqual(fs.readdirSync(bundled).sort(), names);
  for (const name of names) {
    assert.ok(fs.readFileSync(path.join(bundled, name)).equals(fs.readFileSync(path.join(ASSETS, name))), name);
  }
});

test("a browser gets the page, everything else the JSON index", async () => {
  const page = await h.fetch(`${BASE}/`, { headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(page.headers.get("content-security-policy"), CSP);
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  assert.equal(await page.text(), fs.readFileSync(path.join(ASSETS, "index.html"), "utf8"));
  const json = await h.fetch(`${BASE}/`, { headers: { accept: "application/json" } });
  assert.equal(json.headers.get("content-type"), "application/json");
  assert.equal((await json.json()).composer.repository, BASE);
});

test("each file is served with its type and revalidated by ETag", async () => {
  for (const name of fs.readdirSync(ASSETS).filter((n) => n !== "index.html")) {
    const response = await h.fetch(`${BASE}/ui/${name}`);
    assert.equal(response.status, 200, name);
    assert.equal(response.headers.get("content-security-policy"), CSP);
    const type = { js: "text/javascript", css: "text/css", svg: "image/svg+xml" }[name.split(".").pop()];
    assert.ok(response.headers.get("content-type").startsWith(type), `${name}: ${response.headers.get("content-type")}`);
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(fs.readFileSync(path.join(ASSETS, name))), name);
    const again = await h.fetch(`${BASE}/ui/${name}`, { headers: { "if-none-match": response.headers.get("etag") } });
    assert.equal(again.status, 304);
  }
});
