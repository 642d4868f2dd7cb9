// Request limits per token on Workers, measured against the bound the README and access/ratelimit.py
// state: each isolate adds its requests to D1 in batches of RATE_COUNT_BATCH (10) until the total nears
// the limit, so with I isolates at most I x 9 requests beyond the limit succeed in a window, and far
// from the limit a metadata hit costs one D1 call per ten requests, not one per request.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createHarness } from "./harness.mjs";

const BASE = "http://broker.test";
const basic = (secret) => ({ authorization: "Basic " + btoa(`token:${secret}`) });
const ISOLATES = 3;
const LIMIT = 100;
const BATCH = 10;

let h;
before(async () => {
  h = await createHarness({ isolates: ISOLATES, vars: { RATE_LIMIT: String(LIMIT), MEMO_SECONDS: "60" } });
  await h.migrate();
});
after(async () => h?.dispose());

test("over the limit, isolates together let through no more than the stated bound", async () => {
  const secret = await h.createToken("readonly");
  const statuses = [];
  // Requests spread over the isolates, several in flight at once, as a CI fleet would send them.
  for (let round = 0; round < 40; round++) {
    const wave = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        h.fetch(`${BASE}/packages.json`, { headers: basic(secret) }, { isolate: (round + i) % ISOLATES }),
      ),
    );
    statuses.push(...wave.map((r) => r.status));
  }
  const ok = statuses.filter((s) => s === 200).length;
  const bound = ISOLATES * (BATCH - 1);
  console.log(`# ${statuses.length} requests at a limit of ${LIMIT} over ${ISOLATES} isolates: ${ok} succeeded (bound ${LIMIT}-${LIMIT + bound})`);
  assert.ok(ok >= LIMIT && ok <= LIMIT + bound, `${ok} successes, outside ${LIMIT}..${LIMIT + bound}`);
  assert.equal(statuses.filter((s) => s !== 200 && s !== 429).length, 0, statuses.join(","));
});

test("far from the limit, counting costs one D1 call per batch of requests", async () => {
  const secret = await h.createToken("readonly");
  for (let i = 0; i < 5; i++) await h.fetch(`${BASE}/packages.json`, { headers: basic(secret) }); // warm
  const before = h.invocations.length;
  for (let i = 0; i < 30; i++) {
    const response = await h.fetch(`${BASE}/packages.json`, { headers: basic(secret) });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-ratelimit-limit"), String(LIMIT));
  }
  const services = h.invocations.slice(before).map((i) => i.services);
  const total = services.reduce((a, b) => a + b, 0);
  console.log(`# 30 warm hits: ${total} service calls (${services.join(" ")})`);
  assert.ok(total <= 30 / BATCH + 2, `${total} service calls for 30 warm hits`);
});
