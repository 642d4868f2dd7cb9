// The Worker end to end inside the offline harness: real src/entry.py, real workers SDK, real Pyodide,
// Miniflare's D1/KV/R2. Run with `npm run test:worker` (scripts/test runs it).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { createHarness, migrationNames } from "./harness.mjs";
import { makeZip } from "./zip.mjs";

const BASE = "http://broker.test";
const basic = (secret, user = "token") => ({ authorization: "Basic " + btoa(`${user}:${secret}`) });
const sha1 = (bytes) => createHash("sha1").update(bytes).digest("hex");

let h;
let reader;
let writer;

before(async () => {
  h = await createHarness();
  await h.migrate();
  reader = await h.createToken("readonly");
  writer = await h.createToken("write");
});
after(async () => h?.dispose());

async function upload(files, { version, secret = writer } = {}) {
  const query = version ? `?version=${encodeURIComponent(version)}` : "";
  const body = makeZip(files);
  const response = await h.fetch(`${BASE}/api/artifacts${query}`, {
    method: "POST",
    headers: { ...basic(secret), "content-type": "application/zip" },
    body,
  });
  return { response, body };
}

const lib = (version, text) => ({
  "composer.json": JSON.stringify({ name: "acme/worker-lib", description: "Worker lib", version }),
  "src/A.php": `<?php // ${text}`,
});

describe("migrations", () => {
  test("are recorded in wrangler's d1_migrations ledger and not applied twice", async () => {
    assert.deepEqual(await h.migrate(), []);
    const rows = await h.env.DB.prepare("SELECT name FROM d1_migrations ORDER BY id").all();
    assert.deepEqual(rows.results.map((r) => r.name), migrationNames());
    assert.ok(migrationNames().length >= 4);
  });
});

describe("composer endpoints", () => {
  test("/health checks D1, KV and R2", async () => {
    const response = await h.fetch(`${BASE}/health`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      status: "ok",
      version: "0.1.0",
      runtime: "workers",
      checks: { database: "ok", cache: "ok", storage: "ok" },
    });
  });

  test("refuses missing, malformed and unknown tokens with a warning Composer prints", async () => {
    const cases = [
      [{}, "missing"],
      [basic("hunter2"), "malformed"],
      [basic(writer, "admin"), "malformed"],
      [basic("pkb_" + "A".repeat(36) + "000000"), "malformed"],
    ];
    for (const [headers, reason] of cases) {
      const response = await h.fetch(`${BASE}/packages.json`, { headers });
      assert.equal(response.status, 401);
      assert.equal(response.headers.get("content-type"), "application/json");
      const body = await response.json();
      assert.equal(body.reason, reason);
      assert.ok(body.warning.length > 20);
    }
  });

  test("publishes a zip to R2 and serves p2 metadata, 304s and the dist", async () => {
    const { response, body } = await upload(lib("1.0.0", "one"));
    assert.equal(response.status, 201, await response.clone().text());
    const published = await response.json();
    assert.equal(published.shasum, sha1(body));

    const root = await h.fetch(`${BASE}/packages.json`, { headers: basic(reader) });
    assert.deepEqual((await root.json())["available-packages"], ["acme/worker-lib"]);

    const p2 = await h.fetch(`${BASE}/p2/acme/worker-lib.json`, { headers: basic(reader) });
    assert.equal(p2.status, 200);
    assert.equal(p2.headers.get("cache-control"), "private, no-cache");
    const version = (await p2.json()).packages["acme/worker-lib"][0];
    assert.equal(version.version, "1.0.0");
    assert.equal(version.dist.url, `${BASE}/dists/acme/worker-lib/${sha1(body)}.zip`);

    const again = await h.fetch(`${BASE}/p2/acme/worker-lib.json`, {
      headers: { ...basic(reader), "if-modified-since": p2.headers.get("last-modified") },
    });
    assert.equal(again.status, 304);
    assert.equal((await again.arrayBuffer()).byteLength, 0);

    const dist = await h.fetch(version.dist.url, { headers: basic(reader) });
    assert.equal(dist.status, 200);
    assert.equal(dist.headers.get("content-type"), "application/zip");
    const bytes = Buffer.from(await dist.arrayBuffer());
    assert.equal(sha1(bytes), version.dist.shasum);
  });

  test("serves pre-gzipped JSON untouched (encodeBody manual)", async () => {
    const response = await h.fetch(`${BASE}/p2/acme/worker-lib.json`, {
      headers: { ...basic(reader), "accept-encoding": "gzip" },
    });
    assert.equal(response.headers.get("content-encoding"), "gzip");
    const json = JSON.parse(gunzipSync(Buffer.from(await response.arrayBuffer())).toString());
    assert.equal(json.minified, "composer/2.0");
  });

  test("a readonly token cannot publish; bad archives are refused", async () => {
    const { response } = await upload(lib("9.9.9", "x"), { secret: reader });
    assert.equal(response.status, 403);
    const notZip = await h.fetch(`${BASE}/api/artifacts`, {
      method: "POST",
      headers: { ...basic(writer), "content-type": "application/zip" },
      body: "not a zip",
    });
    assert.equal(notZip.status, 422);
    assert.match((await notZip.json()).warning, /not a zip archive/);
  });

  test("concurrent uploads of one new version: one wins on D1, the others get 409 with no database text", async () => {
    const archives = Array.from({ length: 8 }, (_, i) => ({
      "composer.json": JSON.stringify({ name: "acme/worker-race", version: "1.0.0" }),
      "src/A.php": `<?php // upload ${i}`,
    }));
    const results = await Promise.all(archives.map((files) => upload(files)));
    const statuses = results.map((r) => r.response.status).sort();
    const texts = await Promise.all(results.map((r) => r.response.clone().text()));
    assert.deepEqual(statuses, [201, 409, 409, 409, 409, 409, 409, 409], texts.join("\n"));
    for (const text of texts) assert.doesNotMatch(text, /database|unique|constraint|sqlite|d1_/i);
    const winner = results.find((r) => r.response.status === 201);
    const p2 = await h.fetch(`${BASE}/p2/acme/worker-race.json`, { headers: basic(reader) });
    assert.equal((await p2.json()).packages["acme/worker-race"][0].dist.shasum, sha1(winner.body));
  });

  test("notify-batch counts served versions only, in one D1 batch", async () => {
    const downloads = [
      { name: "acme/worker-lib", version: "1.0.0.0" },
      { name: "acme/worker-lib", version: "7.7.7.7" },
      { name: "acme/junk", version: "1.0.0.0" },
    ];
    const response = await h.fetch(`${BASE}/downloads/`, {
      method: "POST",
      headers: { ...basic(reader), "content-type": "application/json" },
      body: JSON.stringify({ downloads }),
    });
    assert.equal(response.status, 200);
    const rows = await h.env.DB.prepare("SELECT package, version_normalized, count FROM downloads").all();
    assert.deepEqual(rows.results, [{ package: "acme/worker-lib", version_normalized: "1.0.0.0", count: 1 }]);
    const deep = await h.fetch(`${BASE}/downloads/`, { method: "POST", headers: basic(reader), body: "[".repeat(60000) });
    assert.equal(deep.status, 400);
    // The same in an uploaded composer.json: refused, and the interpreter lives on (a Wasm stack overflow
    // inside json.loads would have killed it for every later request).
    const manifest = '{"name": "acme/deep", "version": "1.0.0", "extra": ' + "[".repeat(100000) + "]".repeat(100000) + "}";
    const upload = await h.fetch(`${BASE}/api/artifacts`, {
      method: "POST",
      headers: { ...basic(writer), "content-type": "application/zip" },
      body: makeZip({ "composer.json": manifest }),
    });
    assert.equal(upload.status, 400);
    assert.match((await upload.json()).warning, /more than 511 levels deep/);
    assert.equal((await h.fetch(`${BASE}/packages.json`, { headers: basic(reader) })).status, 200);
  });

  test("unknown packages are a 404, HEAD has no body, Composer 1 gets 406", async () => {
    assert.equal((await h.fetch(`${BASE}/p2/acme/nothing.json`, { headers: basic(reader) })).status, 404);
    const head = await h.fetch(`${BASE}/p2/acme/worker-lib.json`, { method: "HEAD", headers: basic(reader) });
    assert.equal(head.status, 200);
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    const old = await h.fetch(`${BASE}/p2/acme/worker-lib.json`, { headers: { ...basic(reader), "user-agent": "Composer/1.10.1" } });
    assert.equal(old.status, 406);
    const root = await h.fetch(`${BASE}/packages.json`, { headers: { "user-agent": "Composer/1.10.1" } });
    assert.match((await root.json()).warning, /Composer 2 only/);
  });

  test("streams a 24 MB dist from R2 with the right length and checksum", async () => {
    const big = Buffer.alloc(24 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    const { response, body } = await upload({
      "composer.json": JSON.stringify({ name: "acme/worker-big", version: "1.0.0" }),
      "data.bin": big,
    });
    assert.equal(response.status, 201, await response.clone().text());
    const dist = await h.fetch(`${BASE}/dists/acme/worker-big/${sha1(body)}.zip`, { headers: basic(reader) });
    assert.equal(dist.status, 200);
    assert.equal(Number(dist.headers.get("content-length")), body.length);
    let received = 0;
    const hash = createHash("sha1");
    for await (const chunk of dist.body) {
      received += chunk.length;
      hash.update(chunk);
    }
    assert.equal(received, body.length);
    assert.equal(hash.digest("hex"), sha1(body));
  });
});

const generation = async () =>
  (await h.env.DB.prepare("SELECT value FROM broker_state WHERE name = 'generation'").first())?.value;

describe("caching", () => {
  test("built metadata is cached in KV with a TTL and the D1 generation it was built under", async () => {
    await h.fetch(`${BASE}/p2/acme/worker-lib.json`, { headers: basic(reader) });
    const listed = await h.env.PACKAGE_BROKER_KV.list({ prefix: "p2:acme/worker-lib" });
    const entry = listed.keys.find((k) => k.name === "p2:acme/worker-lib");
    assert.ok(entry, JSON.stringify(listed.keys));
    const now = Date.now() / 1000;
    assert.ok(entry.expiration > now + 3600 && entry.expiration <= now + 24 * 3600 + 5, String(entry.expiration));
    assert.match(await generation(), /^[0-9a-f]{16}$/);
    assert.equal(entry.metadata.g, await generation());
    assert.match(entry.metadata.lm, /^\d+$/);
  });

  test("a new version writes a new generation in D1, in the same batch, and is served at once", async () => {
    const before = await generation();
    const { response } = await upload(lib("1.1.0", "two"));
    assert.equal(response.status, 201);
    assert.notEqual(await generation(), before);
    assert.equal((await h.env.PACKAGE_BROKER_KV.list({ prefix: "generation" })).keys.length, 0);
    const p2 = await h.fetch(`${BASE}/p2/acme/worker-lib.json`, { headers: basic(reader) });
    const versions = (await p2.json()).packages["acme/worker-lib"].map((v) => v.version);
    assert.deepEqual(versions, ["1.1.0", "1.0.0"]);
  });

  test("token look-ups never reach KV, and a flood of unknown tokens writes nothing anywhere", async () => {
    assert.equal((await h.env.PACKAGE_BROKER_KV.list({ prefix: "token:" })).keys.length, 0);
    const keys = (await h.env.PACKAGE_BROKER_KV.list()).keys.length;
    const tokens = await h.env.DB.prepare("SELECT COUNT(*) AS n, MAX(updated_at) AS u FROM tokens").first();
    // Well-formed (right prefix, length and checksum), unknown to this broker.
    const guesses = (await h.runPython("from package_broker.access import tokens; [tokens.generate() for _ in range(40)]")).toJs();
    const first = h.invocations.length;
    for (const guess of guesses) {
      const response = await h.fetch(`${BASE}/packages.json`, { headers: basic(guess) });
      assert.equal(response.status, 401);
      assert.equal((await response.json()).reason, "unknown");
    }
    // Each guess: at most the generation check and one indexed read; never a write.
    assert.ok(h.invocations.slice(first).every((i) => i.services <= 2 && i.fetch === 0));
    assert.equal((await h.env.PACKAGE_BROKER_KV.list()).keys.length, keys);
    assert.deepEqual(await h.env.DB.prepare("SELECT COUNT(*) AS n, MAX(updated_at) AS u FROM tokens").first(), tokens);
  });
});

describe("logs", () => {
  test("one JSON line per request, with the token id and never the token", async () => {
    const marker = `trace-${Date.now()}`;
    await h.fetch(`${BASE}/packages.json`, { headers: { ...basic(reader), "x-request-id": marker } });
    const lines = h.logs.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    const mine = lines.filter((l) => l.request_id === marker);
    assert.equal(mine.length, 1);
    assert.equal(mine[0].path, "/packages.json");
    assert.match(mine[0].token_id, /^tok_/);
    assert.ok(!h.logs.some((l) => l.includes(reader) || l.includes(writer)));
  });
});
