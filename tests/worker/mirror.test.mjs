// The lazy packagist mirror on the Worker: a first request for a name costs one upstream fetch (the
// root file was read by the cron run), a dist's first download one more, and later requests none; the
// advisories API answers from the upstream's. The upstream is tests/fixtures/packagist.py with real
// Debian PHP libraries.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import path from "node:path";
import { after, before, test } from "node:test";
import { createHarness, ROOT } from "./harness.mjs";

const BASE = "http://broker.test";
const basic = (secret) => ({ authorization: "Basic " + btoa(`token:${secret}`) });
let h;
let upstream;
let reader;

async function startPackagist(args) {
  const child = spawn(path.join(ROOT, ".venv/bin/python"), ["-m", "tests.fixtures.packagist", ...args], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const port = await new Promise((resolve, reject) => {
    child.once("error", reject);
    child.stdout.once("data", (data) => resolve(JSON.parse(String(data).split("\n")[0]).port));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    requests: async () => (await fetch(`${url}/__fixture__/requests`)).json(),
    stop: () => child.stdin.end(),
  };
}

before(async () => {
  h = await createHarness({ vars: { SYNC_INTERVAL: "300" } });
  await h.migrate();
  upstream = await startPackagist(["--library", "psr/log", "--advisory", "psr/log=<99"]);
  reader = await h.createToken("readonly");
  await h.runPython(
    `
from package_broker.runtimes.cloudflare.worker import app_for
from package_broker.sources.lazy_mirror import add_lazy_mirror
(await add_lazy_mirror(app_for(env).broker, url)).id
`,
    { url: upstream.url },
  );
  await h.scheduled(); // the first sync reads the upstream's packages.json
});
after(async () => {
  upstream?.stop();
  await h?.dispose();
});

test("a first request for a name costs one upstream fetch; its dist one on first download, then none", async () => {
  const before = (await upstream.requests()).length;
  const p2 = await h.fetch(`${BASE}/p2/psr/log.json`, { headers: basic(reader) });
  assert.equal(p2.status, 200);
  assert.equal(h.invocations.at(-1).fetch, 1);
  const asked = (await upstream.requests()).slice(before).map(([, p]) => p);
  assert.deepEqual(asked, ["/p2/psr/log.json"]);
  const [version] = (await p2.json()).packages["psr/log"];
  assert.match(version.dist.url, /^http:\/\/broker\.test\/dists\/psr\/log\/[0-9a-f]{40}\.zip$/);

  const dist = await h.fetch(version.dist.url, { headers: basic(reader) });
  assert.equal(dist.status, 200);
  assert.equal(h.invocations.at(-1).fetch, 1);
  const bytes = Buffer.from(await dist.arrayBuffer());
  assert.equal(crypto.createHash("sha1").update(bytes).digest("hex"), version.dist.shasum);

  const again = await h.fetch(version.dist.url, { headers: basic(reader) });
  assert.equal(again.status, 200);
  await again.arrayBuffer();
  assert.equal((await h.fetch(`${BASE}/p2/psr/log.json`, { headers: basic(reader) })).status, 200);
  assert.equal((await upstream.requests()).length, before + 2);
});

test("packages.json leaves available-packages out and names the advisories API, which answers", async () => {
  const root = await (await h.fetch(`${BASE}/packages.json`, { headers: basic(reader) })).json();
  assert.equal(root["available-packages"], undefined);
  assert.deepEqual(root["security-advisories"], { metadata: false, "api-url": `${BASE}/api/security-advisories/` });
  const answer = await h.fetch(`${BASE}/api/security-advisories/`, {
    method: "POST",
    headers: { ...basic(reader), "content-type": "application/x-www-form-urlencoded" },
    body: "packages%5B0%5D=psr%2Flog",
  });
  assert.equal(answer.status, 200);
  const advisories = (await answer.json()).advisories;
  assert.deepEqual(advisories["psr/log"].map((a) => a.title), ["Fixture advisory for psr/log"]);
});
