// Worker benchmark, in the offline harness (the deploy bundle in real Pyodide 0.28.2, Miniflare D1/KV/R2,
// Cloudflare's limits enforced). Prints:
//   * CPU milliseconds of the Python handler per warm p2 hit (with and without the D1 generation check
//     that each isolate makes once per MEMO_SECONDS), per packages.json, per dist stream start, and per
//     warm p2 hit of a token without a rate limit (no D1 call at all: the rate count is one D1 write per
//     ten requests of a limited token);
//   * the cost of one D1 query made from JS through the harness (a second peer): Miniflare's Node-side
//     proxy to workerd, which is Node CPU here and a wait on D1 (not Worker CPU) on Cloudflare;
//   * the import time of entry.py (a cold isolate, without Cloudflare's memory snapshot);
//   * subrequests and CPU of a cron run that finds nothing new over 50 mirrored packages;
//   * the Wasm heap after the largest upload MAX_UPLOAD_BYTES allows.
// The named peer, measured in the same run: a bare JS handler returning the same bytes from memory (what a
// Worker costs at the very least). Targets: <= 2 ms CPU per warm metadata hit.
//
//   node bench/worker.mjs [--iterations 500] [--packages 50]

import { createHarness } from "../tests/worker/harness.mjs";
import { startUpstream } from "../tests/worker/upstream.mjs";
import { archiveOfSize, makeZip } from "../tests/worker/zip.mjs";

const arg = (name, fallback) => Number(process.argv[process.argv.indexOf(name) + 1]) || fallback;
const iterations = arg("--iterations", 500);
const packages = arg("--packages", 50);
const BASE = "http://broker.test";
const MiB = 1024 * 1024;
const basic = (secret) => ({ authorization: "Basic " + btoa(`token:${secret}`) });

// CPU time of the whole process (Pyodide runs on this thread; Miniflare's workerd is another process).
async function measure(label, call, n = iterations) {
  for (let i = 0; i < Math.min(50, n); i++) await call(); // warm
  const cpu = process.cpuUsage();
  const wall = performance.now();
  for (let i = 0; i < n; i++) await call();
  const used = process.cpuUsage(cpu);
  return { label, cpuMs: (used.user + used.system) / 1000 / n, wallMs: (performance.now() - wall) / n };
}

async function requests(h) {
  await h.migrate();
  const writer = await h.createToken("write");
  const reader = await h.createToken("readonly");
  const auth = basic(reader);
  const unlimited = basic(await h.createToken("readonly", { rate_limit: 0 }));
  for (let minor = 0; minor < 25; minor++) {
    const body = makeZip({
      "composer.json": JSON.stringify({ name: "bench/lib", description: "benchmark", require: { php: ">=8.1" } }),
      "src/A.php": `<?php // ${minor}`,
    });
    const response = await h.fetch(`${BASE}/api/artifacts?version=1.${minor}.0`, {
      method: "POST",
      headers: { ...basic(writer), "content-type": "application/zip" },
      body,
    });
    if (response.status !== 201) throw new Error(await response.text());
  }
  const first = await h.fetch(`${BASE}/p2/bench/lib.json`, { headers: auth });
  const distUrl = (await first.json()).packages["bench/lib"][0].dist.url;
  const p2Body = await (await h.fetch(`${BASE}/p2/bench/lib.json`, { headers: auth })).arrayBuffer();
  const bare = async () => {
    const request = new Request(`${BASE}/p2/bench/lib.json`, { headers: auth });
    const response = new Response(p2Body, { headers: { "content-type": request.headers.get("accept") ?? "application/json" } });
    await response.arrayBuffer();
  };
  const hit = (path, extra = {}, who = auth) => async () => {
    const response = await h.fetch(`${BASE}${path}`, { headers: { ...who, ...extra } });
    if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
    await response.arrayBuffer();
  };
  const forgetGeneration = () => h.runPython("from package_broker.runtimes.cloudflare.worker import app_for\napp_for(env).broker.cache._checked_at = float('-inf')");
  const checked = async () => {
    await forgetGeneration();
    await hit("/p2/bench/lib.json", { "accept-encoding": "gzip" })();
  };
  const forgetOnly = async () => {
    await forgetGeneration();
  };
  const distStart = async () => {
    const response = await h.fetch(distUrl, { headers: auth });
    if (response.status !== 200) throw new Error(`dist: ${response.status}`);
    await response.body.cancel();
  };
  const distKey = new URL(distUrl).pathname.slice(1);
  const bareDist = async () => {
    const object = await h.env.ARTIFACTS.get(distKey);
    const response = new Response(object.body, { headers: { "content-length": String(object.size) } });
    await response.body.cancel();
  };
  const peer = await measure("bare JS handler, same bytes (peer)", bare);
  // The query of the generation check, from JS: what one D1 call costs in this harness, whoever makes it.
  const d1Query = async () => {
    await h.env.DB.prepare("SELECT value FROM broker_state WHERE name = ?").bind("generation").all();
  };
  const d1Peer = await measure("bare JS D1 query, harness (peer)", d1Query, 200);
  const distPeer = await measure("bare JS handler, same R2 object (peer)", bareDist);
  const hook = await measure("(harness: reset the memo, subtracted)", forgetOnly, 200);
  const withCheck = await measure("warm p2 hit + D1 generation check", checked, 200);
  withCheck.cpuMs -= hook.cpuMs;
  withCheck.wallMs -= hook.wallMs;
  const rows = [
    await measure("warm p2 hit (gzip)", hit("/p2/bench/lib.json", { "accept-encoding": "gzip" })),
    await measure("warm p2 hit (identity)", hit("/p2/bench/lib.json")),
    await measure("warm p2 hit, unlimited token (no D1)", hit("/p2/bench/lib.json", { "accept-encoding": "gzip" }, unlimited)),
    withCheck,
    await measure("warm packages.json", hit("/packages.json", { "accept-encoding": "gzip" })),
    await measure("dist stream start (R2)", distStart),
  ];
  // The core alone, in Pyodide: App.handle on a warm p2 hit, without the JS <-> Python bridge.
  const coreMs = await h.runPython(
    `
import base64, time
from package_broker.runtimes.cloudflare.worker import app_for
from package_broker.web.http import Request
app = app_for(env)
header = "Basic " + base64.b64encode(("token:" + secret).encode()).decode()
def request():
    return Request("GET", "/p2/bench/lib.json", headers={"authorization": header, "accept-encoding": "gzip", "host": "broker.test"})
for _ in range(100):
    await app.handle(request())
started = time.perf_counter()
for _ in range(n):
    await app.handle(request())
(time.perf_counter() - started) * 1000 / n
`,
    { secret: reader, n: iterations * 2 },
  );
  return { peer, distPeer, d1Peer, rows, coreMs };
}

async function cron() {
  const upstream = await startUpstream();
  const h = await createHarness({ vars: { SYNC_INTERVAL: "0", SUBREQUEST_LIMIT: "1000" }, plan: "paid" });
  try {
    await h.migrate();
    for (let i = 0; i < packages; i++) {
      const name = `up/pkg${String(i).padStart(3, "0")}`;
      await upstream.release(name, "1.0.0", { "composer.json": JSON.stringify({ name }), "a.txt": name });
    }
    await h.runPython(
      "from package_broker.runtimes.cloudflare.worker import app_for\nawait app_for(env).broker.sources.add('composer', url)",
      { url: upstream.url },
    );
    const first = await h.scheduled();
    const runs = [];
    for (let i = 0; i < 3; i++) {
      await h.env.DB.prepare("UPDATE sources SET last_synced_at = 0").run();
      const cpu = process.cpuUsage();
      const wall = performance.now();
      const meter = await h.scheduled();
      const used = process.cpuUsage(cpu);
      runs.push({ meter, cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - wall });
    }
    return { first, runs };
  } finally {
    upstream.stop();
    await h.dispose();
  }
}

async function upload() {
  const limit = 64 * MiB;
  const h = await createHarness({ vars: { MAX_UPLOAD_BYTES: String(limit) } });
  try {
    await h.migrate();
    const writer = await h.createToken("write");
    // Incompressible content, stored: the archive is as large as the limit allows.
    const zip = archiveOfSize("bench/huge", limit);
    const before = h.isolates[0].wasmBytes();
    const cpu = process.cpuUsage();
    const wall = performance.now();
    const response = await h.fetch(`${BASE}/api/artifacts`, {
      method: "POST",
      headers: { ...basic(writer), "content-type": "application/zip", "content-length": String(zip.length) },
      body: zip,
    });
    const used = process.cpuUsage(cpu);
    if (response.status !== 201) throw new Error(await response.text());
    return { size: zip.length, before, after: h.isolates[0].wasmBytes(), cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - wall };
  } finally {
    await h.dispose();
  }
}

// Requests are measured without the harness's subrequest meter (AsyncLocalStorage costs CPU of its own),
// and counted against a rate limit they never reach (one D1 call per ten requests, as in production).
const h = await createHarness({ plan: null, vars: { RATE_LIMIT: "1000000000" } });
let measured;
try {
  measured = await requests(h);
} finally {
  await h.dispose();
}
const { peer, distPeer, d1Peer, rows, coreMs } = measured;
console.log(`\nWorker benchmark (Pyodide 0.28.2 in Node ${process.versions.node}, ${iterations} iterations each)`);
console.log(`import of entry.py (core, SDK, adapters), cold isolate: ${h.importMs.toFixed(0)} ms (no memory snapshot)`);
console.log(`${"request".padEnd(40)} ${"CPU ms".padStart(8)} ${"wall ms".padStart(8)} ${"x peer".padStart(8)}`);
for (const row of [peer, distPeer, d1Peer, ...rows]) {
  const base = row.label.startsWith("dist") || row === distPeer ? distPeer : row === d1Peer ? d1Peer : peer;
  const ratio = (row.cpuMs / base.cpuMs).toFixed(1);
  console.log(`${row.label.padEnd(40)} ${row.cpuMs.toFixed(3).padStart(8)} ${row.wallMs.toFixed(3).padStart(8)} ${ratio.padStart(8)}`);
}
console.log(`${"core only: App.handle, warm p2, in Python".padEnd(40)} ${"".padStart(8)} ${coreMs.toFixed(3).padStart(8)}`);
// Rows by what they measure, not by position (metadata hits, and the dist stream start).
const metadata = rows.filter((r) => !r.label.startsWith("dist"));
const dist = rows.find((r) => r.label.startsWith("dist"));
const worst = Math.max(...metadata.map((r) => r.cpuMs));
const noD1 = rows.find((r) => r.label.includes("(no D1)")).cpuMs;
console.log(`warm metadata hit: ${worst.toFixed(3)} ms CPU at most, generation check included (target <= 2 ms)`);
console.log(
  `  of which D1 calls through the harness: a warm hit with none costs ${noD1.toFixed(3)} ms; one D1 query ` +
    `from bare JS costs ${d1Peer.cpuMs.toFixed(3)} ms here (Node's side of Miniflare's proxy; on Cloudflare a wait)`,
);
console.log(`dist stream start: ${(dist.cpuMs - distPeer.cpuMs).toFixed(3)} ms CPU more than the bare handler ` +
  "(the rest is Miniflare's Node-side R2 proxy, a native call in workerd)");

const { first, runs } = await cron();
console.log(`\ncron over ${packages} mirrored packages (1 version each): first run ${first.fetch} fetches + ${first.services} service calls`);
for (const run of runs) {
  console.log(
    `  no-change run: ${run.meter.fetch} fetches, ${run.meter.services} service calls, ` +
      `${run.cpuMs.toFixed(0)} ms CPU, ${run.wallMs.toFixed(0)} ms wall`,
  );
}
console.log(`  (Free plan: 50 fetches and 10 ms CPU per invocation; a no-change pass needs 1 + 2 x packages fetches)`);

const big = await upload();
console.log(
  `\nlargest upload (${(big.size / MiB).toFixed(0)} MiB): Wasm heap ${(big.before / MiB).toFixed(0)} -> ${(big.after / MiB).toFixed(0)} MiB, ` +
    `${big.cpuMs.toFixed(0)} ms CPU, ${big.wallMs.toFixed(0)} ms wall (the archive itself stays in one JS buffer)`,
);

// --save: bench/results/worker.json through bench/results.py (one writer of the results format).
if (process.argv.includes("--save")) {
  const { execFileSync } = await import("node:child_process");
  const table = [
    ...metadata.map((r) => ({ what: `Worker CPU per ${r.label}`, figure: `${r.cpuMs.toFixed(3)} ms`, target: `<= 2 ms; bare JS handler ${peer.cpuMs.toFixed(3)} ms` })),
    { what: "Worker: one D1 query from bare JS through the harness (peer)", figure: `${d1Peer.cpuMs.toFixed(3)} ms`, target: "Node's side of Miniflare's proxy; on Cloudflare a wait on D1, not Worker CPU" },
    { what: `Worker cron, no change over ${packages} mirrored packages`, figure: `${runs[0].meter.fetch} fetches, ${runs[0].meter.services} service calls, ${runs[0].cpuMs.toFixed(0)} ms CPU`, target: "50 fetches (Free plan)" },
    { what: `Worker Wasm heap after a ${(big.size / MiB).toFixed(0)} MiB upload`, figure: `${(big.before / MiB).toFixed(0)} -> ${(big.after / MiB).toFixed(0)} MiB`, target: "128 MB isolate" },
  ];
  const figures = { importMs: h.importMs, peer, distPeer, d1Peer, rows, coreMs, cron: { first, runs }, upload: big, table };
  const script = "import json, sys; from bench import results; d = json.load(sys.stdin); " +
    "results.save('worker', d['figures'], command=d['command'], leaves_out=d['leaves_out'])";
  execFileSync(".venv/bin/python", ["-c", script], {
    input: JSON.stringify({
      figures,
      command: "node bench/worker.mjs " + process.argv.slice(2).join(" "),
      leaves_out: "Cloudflare's memory snapshots and real CPU accounting (CPU here is Node's whole process, with Miniflare's proxies), KV propagation, D1 replicas",
    }),
    stdio: ["pipe", "inherit", "inherit"],
  });
}
