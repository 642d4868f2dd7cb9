// The port contracts on the Worker's own adapters: every check of tests/contract/checks/ (the same checks
// pytest runs on the server's adapters in tests/contract/test_*.py) runs against D1Database, WorkersKVStore
// and R2ObjectStore, in the Worker's Pyodide, over Miniflare's D1, KV and R2.
//
// One harness for the whole file, with the repository mounted at /repo so Python can import the checks;
// each check's binding is emptied before it runs, so every check starts on an empty database, namespace
// or bucket, as each pytest test does on the server.

import fs from "node:fs";
import { after, before, test } from "node:test";
import { ROOT, createHarness, wranglerBindings } from "./harness.mjs";
import { binding } from "./platform.mjs";

const bindings = wranglerBindings();

/** Drop every table but D1's and SQLite's own, newest first (a table's foreign keys name older tables). */
async function emptyD1(db) {
  const { results } = await db
    .prepare(
      `SELECT name FROM sqlite_master WHERE type = 'table'
         AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
       ORDER BY rowid DESC`,
    )
    .all();
  if (results.length) await db.batch(results.map(({ name }) => db.prepare(`DROP TABLE "${name}"`)));
}

async function emptyKV(kv) {
  let page = { list_complete: false };
  while (!page.list_complete) {
    page = await kv.list({ cursor: page.cursor });
    await Promise.all(page.keys.map(({ name }) => kv.delete(name)));
  }
}

async function emptyR2(bucket) {
  let page = { truncated: true };
  while (page.truncated) {
    page = await bucket.list({ cursor: page.cursor });
    if (page.objects.length) await bucket.delete(page.objects.map(({ key }) => key));
  }
}

/**
 * Workers KV takes one write per second per key (the harness refuses a faster one, as Cloudflare does),
 * while the checks replace and delete keys at once: so the checks get a namespace that waits, per key,
 * until a write is allowed, as a careful client of real Workers KV must.
 */
const lastWrite = new Map(); // shared by every check: a key written by one check may be written by the next
function pacedKV(kv) {
  const last = lastWrite;
  const pace = async (key) => {
    const wait = (last.get(key) ?? -Infinity) + 1001 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    last.set(key, Date.now());
  };
  return binding("KvNamespace", {
    get: (...args) => kv.get(...args),
    getWithMetadata: (...args) => kv.getWithMetadata(...args),
    list: (...args) => kv.list(...args),
    put: async (key, ...rest) => (await pace(key), kv.put(key, ...rest)),
    delete: async (key) => (await pace(key), kv.delete(key)),
  });
}

// Which checks (tests/contract/checks/<checks>.py) run on which adapter (runtimes/cloudflare/<module>.py).
const PORTS = [
  { checks: "database", module: "d1", adapter: "D1Database", binding: bindings.d1.binding, empty: emptyD1 },
  { checks: "kv", module: "kv", adapter: "WorkersKVStore", binding: bindings.kv.binding, empty: emptyKV, wrap: pacedKV },
  { checks: "objects", module: "r2", adapter: "R2ObjectStore", binding: bindings.r2.binding, empty: emptyR2 },
];

const CHECK_NAMES = `
from importlib import import_module
",".join(check.__name__ for check in import_module("tests.contract.checks." + checks).CHECKS)
`;

const RUN_CHECK = `
from importlib import import_module
Adapter = getattr(import_module("package_broker.runtimes.cloudflare." + module), adapter)
[check] = [c for c in import_module("tests.contract.checks." + checks).CHECKS if c.__name__ == check_name]
await check(Adapter(port_binding))
`;

let h;
before(async () => {
  h = await createHarness();
  h.py.mountNodeFS("/repo", fs.realpathSync(ROOT));
  // Import the checks from the checkout without writing bytecode into it.
  h.py.runPython(`import sys; sys.dont_write_bytecode = True; sys.path.append("/repo")`);
});
after(async () => h?.dispose());

for (const port of PORTS) {
  test(port.adapter, async (t) => {
    const names = (await h.runPython(CHECK_NAMES, { checks: port.checks })).split(",");
    for (const checkName of names) {
      await t.test(checkName, async () => {
        await port.empty(h.env[port.binding]);
        const { checks, module, adapter, binding } = port;
        const raw = h.isolates[0].env[binding];
        const portBinding = port.wrap ? port.wrap(raw) : raw;
        await h.runPython(RUN_CHECK, { checks, module, adapter, port_binding: portBinding, check_name: checkName });
      });
    }
  });
}
