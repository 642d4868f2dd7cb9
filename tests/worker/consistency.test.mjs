// What "visible within MEMO_SECONDS" means across isolates, with Workers KV as Cloudflare runs it:
// eventually consistent (a write made through one isolate is invisible to the other for kvDelayMs). The
// change generation lives in D1, so KV's delay never shows: a revocation or a publish made anywhere is
// seen by every isolate within MEMO_SECONDS.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ROOT, createHarness } from "./harness.mjs";
import { makeZip } from "./zip.mjs";

const BASE = "http://broker.test";
const basic = (secret) => ({ authorization: "Basic " + btoa(`token:${secret}`) });
const KV_DELAY_MS = 30_000;
const MEMO_MS = 1000;

let h;
let writer;
let reader;
before(async () => {
  h = await createHarness({ isolates: 2, kvDelayMs: KV_DELAY_MS, vars: { MEMO_SECONDS: "1" } });
  await h.migrate();
  writer = await h.createToken("write");
  reader = await h.createToken("readonly");
});
after(async () => h?.dispose());

const publish = async (version, isolate) => {
  const body = makeZip({ "composer.json": JSON.stringify({ name: "acme/both", version }), "a.txt": version });
  const response = await h.fetch(
    `${BASE}/api/artifacts`,
    { method: "POST", headers: { ...basic(writer), "content-type": "application/zip" }, body },
    { isolate },
  );
  assert.equal(response.status, 201, await response.clone().text());
};
const versions = async (isolate, secret = reader) => {
  const response = await h.fetch(`${BASE}/p2/acme/both.json`, { headers: basic(secret) }, { isolate });
  return response.status === 200 ? (await response.json()).packages["acme/both"].map((v) => v.version) : response.status;
};

test("the harness's KV is eventually consistent between isolates, like Workers KV", async () => {
  const [one, two] = h.isolates.map((i) => i.env.PACKAGE_BROKER_KV);
  await one.put("probe", "written by isolate 0");
  assert.equal(await one.get("probe"), "written by isolate 0");
  assert.equal(await two.get("probe"), null); // not yet visible elsewhere
  assert.equal(await h.env.PACKAGE_BROKER_KV.get("probe"), "written by isolate 0"); // but stored
});

test("a version published through one isolate is served by the other within MEMO_SECONDS", async () => {
  await publish("1.0.0", 0);
  assert.deepEqual(await versions(0), ["1.0.0"]);
  assert.deepEqual(await versions(1), ["1.0.0"]);
  await publish("1.1.0", 0);
  await sleep(MEMO_MS + 100);
  // Isolate 1 still sees isolate 0's new KV entry as absent (and its own old one as current), yet serves
  // the new version: the generation read from D1 says its copies are stale.
  assert.deepEqual(await versions(1), ["1.1.0", "1.0.0"]);
  assert.deepEqual(await versions(0), ["1.1.0", "1.0.0"]);
});

test("a token revoked with `token revoke --sql` + `wrangler d1 execute` is refused everywhere within MEMO_SECONDS", async () => {
  const victim = await h.createToken("readonly");
  assert.deepEqual(await versions(0, victim), ["1.1.0", "1.0.0"]);
  assert.deepEqual(await versions(1, victim), ["1.1.0", "1.0.0"]); // both isolates remember it now
  const id = (await h.env.DB.prepare("SELECT id FROM tokens ORDER BY created_at DESC, rowid DESC LIMIT 1").first()).id;
  const cli = spawnSync(path.join(ROOT, ".venv/bin/package-broker"), ["token", "revoke", id, "--sql"], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, DATA_DIR: path.join(h.persistRoot, "unused") },
  });
  assert.equal(cli.status, 0, cli.stderr);
  // What `wrangler d1 execute --file` runs: every statement, in one batch.
  const statements = cli.stdout.split(";\n").map((s) => s.trim()).filter(Boolean);
  // The revocation, a new change generation, and its audit entry.
  assert.equal(statements.length, 3);
  assert.ok(statements[2].startsWith("INSERT INTO audit_log"), statements[2]);
  await h.env.DB.batch(statements.map((sql) => h.env.DB.prepare(sql)));
  await sleep(MEMO_MS + 100);
  for (const isolate of [0, 1]) {
    const response = await h.fetch(`${BASE}/packages.json`, { headers: basic(victim) }, { isolate });
    assert.equal(response.status, 401);
    assert.equal((await response.json()).reason, "revoked");
  }
});
