// Each adapter's conversions across the JavaScript boundary, one by one: D1 (null, integers, floats,
// text), KV (every byte value, metadata, TTL floor), R2 (bytes, custom metadata, missing keys), fetch
// (status, headers, gzip, timeouts) and WebCrypto AES-GCM (the GCM test vectors).

import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { ROOT, createHarness } from "./harness.mjs";

let h;
before(async () => {
  h = await createHarness();
  await h.migrate();
});
after(async () => h?.dispose());

const py = (code, globals) => h.runPython(code, globals);
const json = async (code, globals) => JSON.parse(await py(code, globals));

describe("ffi helpers", () => {
  test("None becomes null, bools become 0/1, dicts become plain objects", async () => {
    const result = await json(`
import json
from js import Object, JSON
from package_broker.runtimes.cloudflare.ffi import js_value, js_object, from_js_json, is_null
out = {
  "none_is_null": JSON.stringify(js_value(None)) == "null",
  "bool": [js_value(True), js_value(False)],
  "object": JSON.stringify(js_object({"a": 1, "b": None, "c": "x"})),
  "plain": js_object({"a": 1}).constructor.name,
  "back": from_js_json(js_object({"n": None, "i": 9007199254740991, "f": 1.5, "s": "\u00e9"})),
  "null": is_null(from_js_json(None)),
}
json.dumps(out)
`);
    assert.deepEqual(result, {
      none_is_null: true,
      bool: [1, 0],
      object: '{"a":1,"b":null,"c":"x"}',
      plain: "Object",
      back: { n: null, i: 9007199254740991, f: 1.5, s: "é" },
      null: true,
    });
  });
});

describe("D1Database", () => {
  test("binds and returns null, large integers, floats and unicode exactly", async () => {
    const row = await json(`
import json
from package_broker.runtimes.cloudflare.d1 import D1Database
db = D1Database(env.DB)
await db.execute("CREATE TABLE IF NOT EXISTS t (a TEXT, b BIGINT, c REAL, d TEXT)")
await db.execute("INSERT INTO t VALUES (?, ?, ?, ?)", (None, 9007199254740991, 0.25, "ünïcødé ✓"))
row = await db.fetch_one("SELECT a, b, c, d FROM t")
json.dumps({"row": row, "types": [type(v).__name__ for v in row.values()]})
`);
    assert.deepEqual(row, { row: { a: null, b: 9007199254740991, c: 0.25, d: "ünïcødé ✓" }, types: ["NoneType", "int", "float", "str"] });
  });

  test("execute returns the rows changed; batch is all-or-nothing", async () => {
    const result = await json(`
import json
from package_broker.errors import BackendError
from package_broker.runtimes.cloudflare.d1 import D1Database
db = D1Database(env.DB)
await db.execute("CREATE TABLE u (k TEXT PRIMARY KEY)")
await db.batch([("INSERT INTO u VALUES (?)", ("a",)), ("INSERT INTO u VALUES (?)", ("b",))])
changed = await db.execute("UPDATE u SET k = k || '!'")
try:
    await db.batch([("INSERT INTO u VALUES (?)", ("c",)), ("INSERT INTO u VALUES (?)", ("a!",))])
    failed = False
except BackendError:
    failed = True
rows = await db.fetch_all("SELECT k FROM u ORDER BY k")
json.dumps({"changed": changed, "failed": failed, "rows": [r["k"] for r in rows], "none": await db.fetch_one("SELECT k FROM u WHERE k = 'zz'")})
`);
    assert.deepEqual(result, { changed: 2, failed: true, rows: ["a!", "b!"], none: null });
  });
});

describe("WorkersKVStore", () => {
  test("keeps every byte value, metadata, and raises short TTLs to KV's 60 s floor", async () => {
    const result = await json(`
import asyncio, json
from package_broker.runtimes.cloudflare.kv import WorkersKVStore
kv = WorkersKVStore(env.PACKAGE_BROKER_KV)
value = bytes(range(256)) * 4
await kv.put("bytes", value, ttl=5, metadata={"lm": "123", "g": ""})
got, meta = await kv.get_with_metadata("bytes")
await asyncio.sleep(1.05)  # Workers KV takes one write per second per key (the harness enforces it)
await kv.delete("bytes")
json.dumps({"same": got == value, "meta": meta, "missing": await kv.get("bytes"), "missing_meta": await kv.get_with_metadata("nope")})
`);
    assert.deepEqual(result, { same: true, meta: { lm: "123", g: "" }, missing: null, missing_meta: null });
  });

  test("expiration is set from the TTL", async () => {
    await py(`
from package_broker.runtimes.cloudflare.kv import WorkersKVStore
await WorkersKVStore(env.PACKAGE_BROKER_KV).put("ttl", b"x", ttl=5)
`);
    const { keys } = await h.env.PACKAGE_BROKER_KV.list({ prefix: "ttl" });
    const remaining = keys[0].expiration - Date.now() / 1000;
    assert.ok(remaining > 55 && remaining <= 61, String(remaining));
  });
});

describe("R2ObjectStore", () => {
  test("stores bytes with sha1 metadata, heads, streams and deletes", async () => {
    const result = await json(`
import io, json, hashlib
from package_broker.runtimes.cloudflare.r2 import R2ObjectStore
r2 = R2ObjectStore(env.ARTIFACTS)
data = bytes(range(256)) * 1000
await r2.put("t/obj.zip", io.BytesIO(data), size=len(data), metadata={"sha1": hashlib.sha1(data).hexdigest()})
head = await r2.head("t/obj.zip")
stored = await r2.get("t/obj.zip")
chunks = [c async for c in stored.open()]
await r2.delete("t/obj.zip")
json.dumps({"size": head.size, "sha1_ok": head.metadata["sha1"] == hashlib.sha1(data).hexdigest(),
            "fresh": head.uploaded_at > 1_700_000_000, "same": b"".join(chunks) == data,
            "native": stored.native is not None, "gone": await r2.get("t/obj.zip") is None})
`);
    assert.deepEqual(result, { size: 256000, sha1_ok: true, fresh: true, same: true, native: true, gone: true });
  });
});

describe("FetchHttpClient", () => {
  let server;
  let url;
  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === "/gz") {
        res.writeHead(200, { "content-encoding": "gzip", "content-type": "application/json", "X-Custom": "yes" });
        res.end(gzipSync(JSON.stringify({ ok: true, auth: req.headers.authorization ?? null })));
      } else if (req.url === "/slow") {
        setTimeout(() => res.end("late"), 3000);
      } else if (req.url === "/echo") {
        let body = [];
        req.on("data", (c) => body.push(c));
        req.on("end", () => res.end(Buffer.concat(body)));
      } else {
        res.writeHead(404);
        res.end("nope");
      }
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => server.closeAllConnections() || server.close());

  test("returns status, lower-case headers and the decompressed body", async () => {
    const result = await json(
      `
import json
from package_broker.runtimes.cloudflare.fetch import FetchHttpClient
client = FetchHttpClient()
ok = await client.request("GET", base + "/gz", headers={"authorization": "Bearer t"})
missing = await client.request("GET", base + "/missing")
echo = await client.request("POST", base + "/echo", body=bytes(range(256)))
json.dumps({"status": ok.status, "custom": ok.headers.get("x-custom"), "body": json.loads(ok.body),
            "missing": [missing.status, missing.body.decode()], "echo": echo.body == bytes(range(256))})
`,
      { base: url },
    );
    assert.deepEqual(result, {
      status: 200,
      custom: "yes",
      body: { ok: true, auth: "Bearer t" },
      missing: [404, "nope"],
      echo: true,
    });
  });

  test("a timeout becomes a BackendError that names the host", async () => {
    const message = await py(
      `
from package_broker.errors import BackendError
from package_broker.runtimes.cloudflare.fetch import FetchHttpClient
try:
    await FetchHttpClient().request("GET", base + "/slow", timeout=0.2)
    message = "no error"
except BackendError as exc:
    message = str(exc)
message
`,
      { base: url },
    );
    assert.match(message, /^GET 127\.0\.0\.1:\d+ failed/);
  });
});

describe("WebCryptoCipher", () => {
  const { vectors } = JSON.parse(fs.readFileSync(path.join(ROOT, "tests/fixtures/aes_gcm_vectors.json"), "utf8"));
  for (const vector of vectors) {
    test(`passes GCM test case ${vector.case}`, async () => {
      const result = await json(
        `
import json
from package_broker.runtimes.cloudflare.webcrypto import WebCryptoCipher
k, iv, aad, p = (bytes.fromhex(v[x]) for x in ("key", "iv", "aad", "plaintext"))
sealed = await WebCryptoCipher().encrypt(k, iv, p, aad)
opened = await WebCryptoCipher().decrypt(k, iv, sealed, aad)
try:
    await WebCryptoCipher().decrypt(k, iv, sealed[:-1] + bytes([sealed[-1] ^ 1]), aad)
    tamper = "accepted"
except ValueError:
    tamper = "refused"
json.dumps({"sealed": sealed.hex(), "opened": opened == p, "tamper": tamper})
`,
        { v: vector },
      );
      assert.deepEqual(result, { sealed: vector.ciphertext + vector.tag, opened: true, tamper: "refused" });
    });
  }
});
