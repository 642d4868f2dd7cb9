// What the Worker's adapters hand across the JavaScript boundary that the port contracts cannot see: the
// ffi helpers, the expiration Workers KV records, R2's own stream and content type, fetch (status, headers,
// gzip, timeouts) and WebCrypto AES-GCM (the GCM test vectors). What D1, Workers KV and R2 return through
// the ports is checked by contract.test.mjs, with the same checks the server's adapters pass.

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

describe("WorkersKVStore", () => {
  test("a TTL becomes the key's expiration; no TTL, none", async () => {
    await py(`
from package_broker.runtimes.cloudflare.kv import WorkersKVStore
kv = WorkersKVStore(env.PACKAGE_BROKER_KV)
await kv.put("ttl:short", b"x", ttl=5)
await kv.put("ttl:forever", b"x")
`);
    const { keys } = await h.env.PACKAGE_BROKER_KV.list({ prefix: "ttl:" });
    const expiration = Object.fromEntries(keys.map((key) => [key.name, key.expiration]));
    const remaining = expiration["ttl:short"] - Date.now() / 1000;
    assert.ok(remaining > 55 && remaining <= 61, String(remaining)); // 5 s asked, KV's 60 s floor kept
    assert.equal(expiration["ttl:forever"], undefined);
  });
});

describe("R2ObjectStore", () => {
  test("get() hands over R2's own stream of the object as `native`; puts are served as zips", async () => {
    const stream = await py(`
import io
from package_broker.runtimes.cloudflare.r2 import R2ObjectStore
r2 = R2ObjectStore(env.ARTIFACTS)
data = bytes(range(256)) * 1000
await r2.put("t/native.zip", io.BytesIO(data), size=len(data), metadata={"sha1": "x"})
(await r2.get("t/native.zip")).native
`);
    const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    assert.equal(bytes.length, 256000);
    assert.ok(bytes.every((byte, i) => byte === i % 256));
    const head = await h.env.ARTIFACTS.head("t/native.zip");
    assert.equal(head.httpMetadata.contentType, "application/zip");
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
