// The Cron Trigger: scheduled() runs the same sync job as the server, through the fetch adapter, and
// writes one JSON log line per run.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createHarness } from "./harness.mjs";
import { startUpstream } from "./upstream.mjs";

const BASE = "http://broker.test";
const basic = (secret) => ({ authorization: "Basic " + btoa(`token:${secret}`) });
let h;
let upstream;
let reader;

before(async () => {
  h = await createHarness({ vars: { SYNC_INTERVAL: "300", MAX_UPLOAD_BYTES: String(1024 * 1024) } });
  await h.migrate();
  upstream = await startUpstream({ user: "mirror", password: "pa55word" });
  reader = await h.createToken("readonly");
});
after(async () => {
  upstream?.stop();
  await h?.dispose();
});

const addSource = (kind, url, credentials = null) =>
  h.runPython(
    `
from package_broker.runtimes.cloudflare.worker import app_for
broker = app_for(env).broker
sealed = await broker.seal_credentials(dict(credentials)) if credentials else None
(await broker.sources.add(kind, url, sealed)).id
`,
    { kind, url, credentials },
  );

const sourceRow = async (id) =>
  (await h.env.DB.prepare("SELECT status, status_message, last_synced_at FROM sources WHERE id = ?").bind(id).first());

test("a cron run mirrors a Composer repository through fetch, with encrypted credentials", async () => {
  await upstream.release("up/cron", "1.0.0", { "composer.json": JSON.stringify({ name: "up/cron" }), "a.txt": "one" });
  const id = await addSource("composer", upstream.url, { username: "mirror", password: "pa55word" });
  const stored = await h.env.DB.prepare("SELECT credentials FROM sources WHERE id = ?").bind(id).first();
  assert.match(stored.credentials, /^v1\.[0-9a-f]{8}\./);
  assert.ok(!stored.credentials.includes("pa55word"));

  await h.scheduled("*/5 * * * *");
  const row = await sourceRow(id);
  assert.equal(row.status, "ok", row.status_message);
  const p2 = await h.fetch(`${BASE}/p2/up/cron.json`, { headers: basic(reader) });
  assert.equal(p2.status, 200);
  const [version] = (await p2.json()).packages["up/cron"];
  assert.equal(version.version, "1.0.0");
  const dist = await h.fetch(version.dist.url, { headers: basic(reader) });
  assert.equal(dist.status, 200);

  const lines = h.logs.filter((l) => l.includes('"event": "sync"')).map((l) => JSON.parse(l));
  assert.equal(lines.at(-1).sources, 1);
  assert.equal(typeof lines.at(-1).duration_ms, "number");
});

test("a source synced recently is not synced again until SYNC_INTERVAL has passed", async () => {
  const before = (await upstream.requests()).length;
  await h.scheduled();
  assert.equal((await upstream.requests()).length, before);
  const lines = h.logs.filter((l) => l.includes('"event": "sync"')).map((l) => JSON.parse(l));
  assert.equal(lines.at(-1).sources, 0);
});

test("a plain git source says it needs the self-hosted server", async () => {
  const id = await addSource("git", "https://git.example.com/acme/lib.git");
  await h.scheduled();
  const row = await sourceRow(id);
  assert.equal(row.status, "error");
  assert.match(row.status_message, /git command line.*workers runtime.*self-hosted server/);
});

test("an archive over MAX_UPLOAD_BYTES is refused while it arrives, and the rest is mirrored", async () => {
  const other = await startUpstream();
  try {
    const noise = Array.from({ length: 4 * 1024 * 1024 / 64 }, () => crypto.randomUUID() + crypto.randomUUID()).join("");
    await other.release("up/huge", "1.0.0", { "composer.json": JSON.stringify({ name: "up/huge" }), "noise.txt": noise });
    await other.release("up/fine", "1.0.0", { "composer.json": JSON.stringify({ name: "up/fine" }) });
    const id = await addSource("composer", other.url);
    await h.env.DB.prepare("UPDATE sources SET last_synced_at = 0").run();
    await h.scheduled();
    const row = await sourceRow(id);
    assert.equal(row.status, "ok", row.status_message);
    assert.match(row.status_message, /up\/huge 1\.0\.0: the archive at 127\.0\.0\.1:\d+ is larger than the limit of 1048576 bytes \(MAX_UPLOAD_BYTES\)/);
    assert.equal((await h.fetch(`${BASE}/p2/up/fine.json`, { headers: basic(reader) })).status, 200);
    assert.equal((await h.fetch(`${BASE}/p2/up/huge.json`, { headers: basic(reader) })).status, 404);
  } finally {
    other.stop();
  }
});
