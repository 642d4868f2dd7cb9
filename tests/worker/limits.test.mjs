// The Worker within Cloudflare's limits, enforced by the harness (tests/worker/platform.mjs): subrequests per
// invocation, KV's one write per second per key, and the isolate's memory.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import { ISOLATE_MEMORY_LIMIT, createHarness } from "./harness.mjs";
import { PLANS } from "./platform.mjs";
import { startUpstream } from "./upstream.mjs";
import { archiveOfSize, makeZip } from "./zip.mjs";

const BASE = "http://broker.test";
const basic = (secret) => ({ authorization: "Basic " + btoa(`token:${secret}`) });
const MiB = 1024 * 1024;
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");

const addSource = (h, url) =>
  h.runPython(
    `
from package_broker.runtimes.cloudflare.worker import app_for
(await app_for(env).broker.sources.add("composer", url)).id
`,
    { url },
  );
const sourceRow = (h, id) =>
  h.env.DB.prepare("SELECT status, status_message, sync_cursor, sync_started_at FROM sources WHERE id = ?").bind(id).first();

describe("subrequests", () => {
  let h;
  let upstream;
  let reader;
  before(async () => {
    h = await createHarness({ vars: { SYNC_INTERVAL: "0" } });
    await h.migrate();
    upstream = await startUpstream();
    reader = await h.createToken("readonly");
  });
  after(async () => {
    upstream?.stop();
    await h?.dispose();
  });

  test("are counted per invocation, also when invocations overlap", async () => {
    // /health reads D1, KV and R2 once each; a malformed token costs at most the generation check (which
    // each isolate makes at most once per MEMO_SECONDS).
    const responses = await Promise.all([
      h.fetch(`${BASE}/health`),
      h.fetch(`${BASE}/packages.json`, { headers: basic("pkb_bogus") }),
      h.fetch(`${BASE}/health`),
    ]);
    assert.deepEqual(responses.map((r) => r.status), [200, 401, 200]);
    const spent = h.invocations.slice(-3).map((i) => `${i.services}/${i.fetch}`);
    assert.deepEqual(spent.filter((s) => s === "3/0").length, 2, spent.join(" "));
    assert.ok(["0/0", "1/0"].includes(spent.find((s) => s !== "3/0")), spent.join(" "));
  });

  test("a first mirror of 24 packages x 3 versions converges run after run, never past the Free plan", async () => {
    const names = Array.from({ length: 24 }, (_, i) => `up/lib${String(i).padStart(2, "0")}`);
    for (const name of names) {
      for (const minor of [0, 1, 2]) {
        await upstream.release(name, `1.${minor}.0`, { "composer.json": JSON.stringify({ name }), "a.txt": `${name} ${minor}` });
      }
    }
    const id = await addSource(h, upstream.url);
    const runs = [];
    for (let run = 0; run < 12; run++) {
      const meter = await h.scheduled();
      runs.push(meter);
      if ((await sourceRow(h, id)).status === "ok") break;
    }
    const row = await sourceRow(h, id);
    assert.equal(row.status, "ok", `${row.status_message} after ${runs.length} runs`);
    assert.ok(runs.length >= 3, `${runs.length} runs: 24 x (2 metadata + 3 archives) fetches cannot fit in one`);
    for (const meter of runs) {
      assert.equal(meter.refused, 0, "the platform never had to refuse a subrequest");
      assert.ok(meter.fetch <= PLANS.free.fetch && meter.services <= PLANS.free.services, JSON.stringify(meter));
    }
    assert.equal(row.sync_cursor, null);
    assert.equal(row.sync_started_at, null);
    const p2 = await h.fetch(`${BASE}/p2/up/lib23.json`, { headers: basic(reader) });
    assert.deepEqual((await p2.json()).packages["up/lib23"].map((v) => v.version), ["1.2.0", "1.1.0", "1.0.0"]);
    const partial = h.logs.filter((l) => l.includes('"event": "sync"')).map((l) => JSON.parse(l));
    assert.ok(partial.some((line) => line.partial === 1 && line.subrequests <= PLANS.free.fetch));
  });

  test("an unchanged mirror costs two conditional requests per package and no storage write", async () => {
    await h.env.DB.prepare("UPDATE sources SET last_synced_at = 0").run();
    const meter = await h.scheduled();
    // packages.json, then 2 x 24 conditional requests: 49 fit in the Free plan's 50.
    assert.equal(meter.fetch, 1 + 2 * 24);
    assert.ok(meter.services <= 6, JSON.stringify(meter)); // due sources, refs, lease, outcome
    assert.equal(meter.refused, 0);
  });

  test("a budget set above the plan is caught: the platform's refusal ends the run cleanly", async () => {
    const greedy = await createHarness({ vars: { SYNC_INTERVAL: "0", SUBREQUEST_LIMIT: "5000" } });
    try {
      await greedy.migrate();
      const id = await addSource(greedy, upstream.url);
      const meter = await greedy.scheduled();
      assert.ok(meter.refused > 0, "the harness refused what Cloudflare would refuse");
      const row = await sourceRow(greedy, id);
      assert.equal(row.status, "partial");
      assert.match(row.status_message, /Cloudflare refused more subrequests.*SUBREQUEST_LIMIT/);
      assert.equal(row.sync_started_at, null, "the lease is released");
      assert.ok(greedy.logs.some((l) => l.includes('"event": "sync"')));
    } finally {
      await greedy.dispose();
    }
  });

  test("POST /api/sync is bounded the same way and says what is left", async () => {
    const writer = await h.createToken("write");
    await upstream.release("up/zz-new", "1.0.0", { "composer.json": JSON.stringify({ name: "up/zz-new" }) });
    await h.env.DB.prepare("UPDATE sources SET last_synced_at = 0").run();
    const response = await h.fetch(`${BASE}/api/sync`, { method: "POST", headers: basic(writer) });
    assert.equal(response.status, 200);
    const [report] = (await response.json()).sources;
    const meter = h.invocations.at(-1);
    assert.equal(meter.refused, 0);
    assert.ok(meter.fetch <= PLANS.free.fetch);
    assert.equal(report.status, "partial");
    assert.match(report.message, /checked \d+ of 25 packages.*next run continues/);
  });
});

describe("KV writes", () => {
  test("a refused cache write (429: one write per second per key) never fails a request", async () => {
    const h = await createHarness({ isolates: 2, kvDelayMs: 0 });
    try {
      await h.migrate();
      const writer = await h.createToken("write");
      const zip = makeZip({ "composer.json": JSON.stringify({ name: "acme/busy", version: "1.0.0" }) });
      const publish = await h.fetch(`${BASE}/api/artifacts`, {
        method: "POST",
        headers: { ...basic(writer), "content-type": "application/zip" },
        body: zip,
      });
      assert.equal(publish.status, 201);
      // Both isolates build the document and write the same KV key within a second: one write is refused.
      const responses = await Promise.all(
        [0, 1].map((isolate) => h.fetch(`${BASE}/p2/acme/busy.json`, { headers: basic(writer) }, { isolate })),
      );
      assert.deepEqual(responses.map((r) => r.status), [200, 200]);
      assert.ok(h.logs.some((l) => /cache write of p2:acme\/busy failed.*429/.test(l)), h.logs.join("\n"));
    } finally {
      await h.dispose();
    }
  });
});

describe("memory", () => {
  test("a MAX_UPLOAD_BYTES the isolate cannot hold is refused, and every request says so", async () => {
    const h = await createHarness({ vars: { MAX_UPLOAD_BYTES: String(100 * MiB) } });
    try {
      const response = await h.fetch(`${BASE}/health`);
      assert.equal(response.status, 503);
      assert.match((await response.json()).message, /MAX_UPLOAD_BYTES: must be at most 67108864 on Workers/);
    } finally {
      await h.dispose();
    }
  });

  test("the largest upload leaves the isolate under Cloudflare's 128 MB", async () => {
    const limit = 64 * MiB;
    const h = await createHarness({ vars: { MAX_UPLOAD_BYTES: String(limit) } });
    try {
      await h.migrate();
      const writer = await h.createToken("write");
      // Incompressible content, stored: the archive is as large as the limit allows.
      const zip = archiveOfSize("acme/huge", limit);
      assert.ok(zip.length <= limit && zip.length > limit - MiB, String(zip.length));
      // Sent as a stream of 64 KiB chunks, as the runtime delivers a request body.
      let sent = 0;
      const body = new ReadableStream({
        pull(controller) {
          if (sent >= zip.length) return controller.close();
          controller.enqueue(new Uint8Array(zip.subarray(sent, sent + 64 * 1024)));
          sent += 64 * 1024;
        },
      });
      const wasmBefore = h.isolates[0].wasmBytes();
      gc();
      const heapBefore = process.memoryUsage().heapUsed;
      let peakBuffers = 0;
      const baseline = process.memoryUsage().arrayBuffers;
      const sampler = setInterval(() => {
        peakBuffers = Math.max(peakBuffers, process.memoryUsage().arrayBuffers - baseline);
      }, 2);
      const response = await h.fetch(`${BASE}/api/artifacts`, {
        method: "POST",
        headers: { ...basic(writer), "content-type": "application/zip", "content-length": String(zip.length) },
        body,
        duplex: "half",
      });
      clearInterval(sampler);
      assert.equal(response.status, 201, await response.clone().text());
      const wasm = h.isolates[0].wasmBytes();
      gc();
      const retained = Math.max(0, process.memoryUsage().heapUsed - heapBefore);
      // What the isolate holds at its peak: its Wasm memory (which never shrinks), the one JavaScript copy
      // of the archive (ports/blob.py) and what the JS heap keeps. Garbage made on the way (much of it by
      // Miniflare's Node-side proxies) is collected under pressure and is not counted.
      const isolate = wasm + zip.length + retained;
      console.log(
        `# wasm heap ${(wasmBefore / MiB).toFixed(0)} -> ${(wasm / MiB).toFixed(0)} MiB; archive ${(zip.length / MiB).toFixed(0)} MiB ` +
          `held once in JS; JS heap retained +${(retained / MiB).toFixed(1)} MiB; isolate peak ${(isolate / MiB).toFixed(0)} MiB; ` +
          `Node's byte arrays peaked +${(peakBuffers / MiB).toFixed(0)} MiB (with Miniflare's own copy for R2)`,
      );
      assert.ok(wasm - wasmBefore < 16 * MiB, `the archive must not enter the Wasm heap (grew ${wasm - wasmBefore} bytes)`);
      // Every byte array alive in this process at the peak, Miniflare's R2 copy included, is at most two archives.
      assert.ok(peakBuffers < 2 * zip.length + 16 * MiB, `a third copy of the archive: ${peakBuffers} bytes`);
      assert.ok(isolate < ISOLATE_MEMORY_LIMIT, `${(isolate / MiB).toFixed(0)} MiB is over the isolate limit`);
    } finally {
      await h.dispose();
    }
  });
});
