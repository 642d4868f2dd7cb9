// The offline Worker harness: the deploy bundle (the real src/entry.py, the core and the vendored `workers`
// SDK, exactly as `wrangler deploy` packs them) in the real Pyodide that wrangler.toml selects, with D1, KV
// and R2 provided by Miniflare (workerd's own implementations) and Cloudflare's limits enforced.
//
// workerd cannot start a Python Worker without internet access (it downloads Cloudflare's Pyodide bundle),
// so the Python side runs in Node's Pyodide and the bindings in Miniflare. What production does at start,
// the harness does the same way (from workerd's python-entrypoint-helper and setup_python_search_path):
// the bundle is mounted at /session/metadata, python_modules/ goes before site-packages, .pth files are
// processed, and with the external SDK the runtime's own `workers` module is a stub that raises. Handlers
// are called the way workerd calls them (fetch "relaxed", scheduled strictly with (controller, env, ctx);
// arguments through python_from_rpc, results through python_to_rpc).
//
// Teeth (tests/worker/platform.mjs): subrequest limits per invocation, KV that is only eventually
// consistent between isolates and refuses a second write to a key within a second, and several isolates
// (each its own Pyodide) over the same D1/KV/R2. See README "Testing the Worker offline" for the gaps.

import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { loadPyodide } from "pyodide";
import { workerBundle } from "./bundle.mjs";
import { productionRuntime } from "./compat.mjs";
import { Invocation, KvNetwork, binding, meteredFetch } from "./platform.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** Cloudflare's memory limit per isolate (JS heap, Wasm memory and buffers together). */
export const ISOLATE_MEMORY_LIMIT = 128 * 1024 * 1024;
const SESSION = "/session/metadata";

/** The schema migrations, shipped in the package and read by `wrangler d1 migrations` (migrations_dir). */
export const SCHEMA_DIR = path.join(ROOT, "src/package_broker/schema");
export const migrationNames = () => fs.readdirSync(SCHEMA_DIR).filter((f) => f.endsWith(".sql")).sort();

/** Binding names and ids exactly as wrangler.toml declares them, so state is shared with wrangler --local. */
export function wranglerBindings() {
  const toml = fs.readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const block = (header) => toml.split(header)[1]?.split("\n[")[0] ?? "";
  const value = (text, key) => text.match(new RegExp(`^${key}\\s*=\\s*"([^"]+)"`, "m"))?.[1];
  const d1 = block("[[d1_databases]]");
  const kv = block("[[kv_namespaces]]");
  const r2 = block("[[r2_buckets]]");
  return {
    d1: { binding: value(d1, "binding"), id: value(d1, "database_id") },
    kv: { binding: value(kv, "binding"), id: value(kv, "id") },
    r2: { binding: value(r2, "binding"), bucket: value(r2, "bucket_name") },
  };
}

/** The `[vars]` of wrangler.toml: what every deployed Worker has in its env unless a test overrides it. */
export function wranglerVars() {
  const toml = fs.readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const block = toml.split("\n[vars]")[1]?.split("\n[")[0] ?? "";
  return Object.fromEntries([...block.matchAll(/^([A-Z][A-Z0-9_]*)\s*=\s*"([^"]*)"/gm)].map((m) => [m[1], m[2]]));
}

/** The Pyodide the harness runs must be the one wrangler.toml selects in production. */
export function checkPyodide(runtime) {
  const installed = createRequire(import.meta.url)("pyodide/package.json").version;
  if (installed !== runtime.line.pyodide) {
    throw new Error(
      `wrangler.toml (compatibility_date ${runtime.date}, flags ${runtime.flags.join(", ")}) makes Cloudflare run ` +
        `Pyodide ${runtime.line.pyodide} (Python ${runtime.line.python}), but the harness has pyodide@${installed}: ` +
        "pin the matching pyodide in package.json, or select this line with compatibility flags",
    );
  }
  return installed;
}

class ExecutionContext {
  constructor() {
    this.pending = [];
  }
  waitUntil(promise) {
    this.pending.push(Promise.resolve(promise));
  }
  passThroughOnException() {}
  async drain() {
    while (this.pending.length) await Promise.all(this.pending.splice(0));
  }
}

class ScheduledController {
  constructor(cron, scheduledTime) {
    this.cron = cron;
    this.scheduledTime = scheduledTime;
    this.type = "scheduled";
  }
  noRetry() {}
}

// Python run once per isolate, after the search path is set up like production: import the Worker,
// and define the call helper workerd's entrypoint helper stands for.
const BOOT = `
import inspect
from pyodide.code import relaxed_call
from workers import python_from_rpc, python_to_rpc
import entry

async def _call(instance, name, relaxed, *args):
    method = getattr(instance, name)
    py_args = [python_from_rpc(a) for a in args]
    result = relaxed_call(method, *py_args) if relaxed else method(*py_args)
    if inspect.isawaitable(result):
        result = await result
    return python_to_rpc(result)
`;

async function startIsolate({ index, bundleDir, runtime, bindings, vars, echo, logs }) {
  const own = [];
  const output = (line) => {
    own.push(line);
    logs.push(line);
    if (echo) process.stdout.write(line + "\n");
  };
  const py = await loadPyodide({ stdout: output, stderr: output });
  py.mountNodeFS(SESSION, bundleDir);
  const sitePackages = py.runPython("import site; site.getsitepackages()[0]");
  if (runtime.compatFlags.enable_python_external_sdk) {
    // What workerd writes when the runtime no longer ships the SDK: importing it without a vendored copy fails.
    const stub = (name) =>
      `err = ModuleNotFoundError("No module named '${name}'", name="${name}")\n` +
      `err.add_note("You need to update to workers-py >= 1.9 or to pass disable_python_external_sdk")\nraise err\n`;
    py.FS.mkdirTree(`${sitePackages}/workers`);
    py.FS.writeFile(`${sitePackages}/workers/__init__.py`, stub("workers"));
    py.FS.writeFile(`${sitePackages}/asgi.py`, stub("asgi"));
  }
  const env = { ENCRYPTION_KEY: vars.ENCRYPTION_KEY, ...vars, ...bindings(index) };
  py.registerJsModule("_cloudflare_compat_flags", runtime.compatFlags);
  py.registerJsModule("_pyodide_entrypoint_helper", {
    cloudflareWorkersModule: { env, waitUntil: () => {} },
    cloudflareSocketsModule: {},
    doAnImport: async (name) => {
      throw new Error(`import ${name} is not available in the harness`);
    },
    patchWaitUntil: () => {},
    patch_env_helper: () => {
      throw new Error("patch_env is not supported in the harness");
    },
  });
  py.globals.set("_process_pth", runtime.compatFlags.python_process_pth_files);
  py.runPython(`
import sys, site
sys.path[:] = ["${SESSION}"] + [p for p in sys.path if p.startswith("/lib")]
for i, p in enumerate(sys.path):
    if "site-packages" in p:
        sys.path.insert(i, "${SESSION}/python_modules")
        break
if _process_pth:
    site.addsitedir("${SESSION}/python_modules")
`);
  const started = performance.now();
  py.runPython(BOOT);
  const importMs = performance.now() - started;
  const call = py.globals.get("_call");
  const instance = (ctx) => py.globals.get("entry").Default(ctx, env);
  return {
    index,
    py,
    env,
    logs: own,
    importMs,
    /** Bytes of Wasm memory this isolate's Python holds (it only grows: Wasm memory is never returned). */
    wasmBytes: () => py._module.HEAP8.buffer.byteLength,
    async invoke(kind, relaxed, args, ctx, plan) {
      const meter = new Invocation(kind, plan);
      const result = await meter.run(async () => {
        const value = await call(instance(ctx), kind, relaxed, ...args);
        await ctx.drain();
        return value;
      });
      return { result, meter };
    },
  };
}

/**
 * Start Miniflare (bindings) and `isolates` Pyodide interpreters running the deploy bundle.
 *
 * Options: `persistDir` (default a fresh temp dir; `.wrangler/state/v3` shares state with wrangler --local),
 * `vars` (Worker vars and secrets), `isolates` (default 1), `plan` ("free" or "paid": the subrequest limits;
 * null: nothing is counted or enforced, for CPU benchmarks only),
 * `kvDelayMs` (how long a KV write stays invisible to the other isolates; default 60 s as in production),
 * `bundleDir` (default: the bundle built from the current sources), `echo` (print the Worker's output).
 */
export async function createHarness({
  persistDir,
  vars = {},
  echo = false,
  isolates = 1,
  plan = "free",
  kvDelayMs = 60_000,
  bundleDir,
} = {}) {
  const runtime = productionRuntime(ROOT);
  checkPyodide(runtime);
  const bundle = bundleDir ?? workerBundle(ROOT);
  const persistRoot = persistDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "pb-worker-"));
  const ids = wranglerBindings();
  const mf = new Miniflare({
    modules: true,
    script: 'export default { async fetch() { return new Response("binding host"); } }',
    compatibilityDate: "2025-11-01",
    d1Databases: { [ids.d1.binding]: ids.d1.id },
    kvNamespaces: { [ids.kv.binding]: ids.kv.id },
    r2Buckets: { [ids.r2.binding]: ids.r2.bucket },
    defaultPersistRoot: persistRoot,
  });
  await mf.ready;
  const raw = {
    d1: await mf.getD1Database(ids.d1.binding),
    kv: await mf.getKVNamespace(ids.kv.binding),
    r2: await mf.getR2Bucket(ids.r2.binding),
  };
  const kvNetwork = new KvNetwork(raw.kv, kvDelayMs);
  // Production's `fetch` is a subrequest; Node's is not. Installed once, counted only inside invocations.
  if (!globalThis.fetch.metered) {
    const metered = meteredFetch(globalThis.fetch.bind(globalThis));
    metered.metered = true;
    globalThis.fetch = metered;
  }
  const workerVars = {
    ...wranglerVars(),
    // The secret `npx wrangler secret put ENCRYPTION_KEY` would set.
    ENCRYPTION_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"),
    ...vars,
  };
  const bindings = (index) => ({
    [ids.d1.binding]: binding("D1Database", raw.d1),
    [ids.kv.binding]: binding("KvNamespace", kvNetwork.view(index)),
    [ids.r2.binding]: binding("R2Bucket", raw.r2),
  });
  const logs = [];
  const started = [];
  try {
    for (let index = 0; index < isolates; index++) {
      started.push(await startIsolate({ index, bundleDir: bundle, runtime, bindings, vars: workerVars, echo, logs }));
    }
  } catch (error) {
    await mf.dispose();
    throw error;
  }
  const pick = (isolate = 0) => {
    if (!started[isolate]) throw new Error(`the harness has ${started.length} isolate(s), not ${isolate + 1}`);
    return started[isolate];
  };

  const harness = {
    mf,
    runtime,
    bundleDir: bundle,
    /** Bindings for test set-up and assertions: not metered, not delayed (what `wrangler ... --local` sees). */
    env: {
      ...workerVars,
      [ids.d1.binding]: binding("D1Database", raw.d1),
      [ids.kv.binding]: binding("KvNamespace", raw.kv),
      [ids.r2.binding]: binding("R2Bucket", raw.r2),
    },
    isolates: started,
    /** The first isolate's Pyodide (most tests use one isolate). */
    py: started[0].py,
    logs,
    importMs: started[0].importMs,
    persistRoot,
    /** Every invocation so far: {kind, fetch, services, refused}. */
    invocations: [],
    /** Call the Worker's fetch() like workerd does; resolves to the JS Response once waitUntil work is done. */
    async fetch(input, init, { isolate = 0 } = {}) {
      const request = input instanceof Request ? input : new Request(input, init);
      // A class-based entrypoint's fetch() receives only the request (env and ctx live on the instance).
      const { result, meter } = await pick(isolate).invoke("fetch", true, [request], new ExecutionContext(), plan);
      harness.invocations.push(meter);
      return result;
    },
    /** Fire the Cron Trigger; resolves to the invocation's meter. */
    async scheduled(cron = "*/5 * * * *", scheduledTime = Date.now(), { isolate = 0 } = {}) {
      const ctx = new ExecutionContext();
      const target = pick(isolate);
      const { meter } = await target.invoke("scheduled", false, [new ScheduledController(cron, scheduledTime), target.env, ctx], ctx, plan);
      harness.invocations.push(meter);
      return meter;
    },
    /** Run Python in an isolate's interpreter (test set-up only, not metered): `env` is its bindings object. */
    async runPython(code, globals = {}, { isolate = 0 } = {}) {
      const { py, env } = pick(isolate);
      const scope = py.globals.get("dict")();
      scope.set("env", env);
      for (const [name, value] of Object.entries(globals)) scope.set(name, py.toPy(value));
      try {
        return await py.runPythonAsync(code, { globals: scope });
      } finally {
        scope.destroy();
      }
    },
    /** Apply the schema migrations through the D1 binding with the broker's own migrator (ledger d1_migrations). */
    async migrate() {
      const sql = Object.fromEntries(migrationNames().map((f) => [f, fs.readFileSync(path.join(SCHEMA_DIR, f), "utf8")]));
      return (
        await harness.runPython(
          `
from package_broker import migrations
from package_broker.runtimes.cloudflare.d1 import D1Database
db = D1Database(env.${ids.d1.binding})
applied = await migrations.apply(db, [migrations.Migration(n, s) for n, s in sql.items()])
",".join(applied)
`,
          { sql },
        )
      ).split(",").filter(Boolean);
    },
    /** Create a token through the core's TokenStore (the Worker has no CLI); returns the secret. */
    async createToken(permission = "readonly", extra = {}) {
      return await harness.runPython(
        `
from package_broker.runtimes.cloudflare.worker import app_for
store = app_for(env).broker.tokens
token, secret = await store.create("harness " + permission, permission=permission, **kwargs)
secret
`,
        { permission, kwargs: extra },
      );
    },
    async dispose() {
      await mf.dispose();
    },
  };
  return harness;
}

/**
 * Serve the Worker over local HTTP (Node http -> Request -> Python fetch -> Response). `control`, if
 * given, answers POST /__harness__/<name> with a JSON body (test set-up that is not part of the Worker).
 */
export async function serveHttp(harness, port = 0, control = null) {
  const server = http.createServer(async (req, res) => {
    try {
      if (control && req.method === "POST" && req.url.startsWith("/__harness__/")) {
        const chunks = [];
        for await (const chunk of req) chunks.push(chunk);
        const result = await control(req.url.slice("/__harness__/".length), JSON.parse(Buffer.concat(chunks) || "{}"));
        res.writeHead(result === undefined ? 404 : 200, { "content-type": "application/json" });
        res.end(JSON.stringify(result ?? { error: "unknown control" }));
        return;
      }
      const url = `http://${req.headers.host}${req.url}`;
      const hasBody = !["GET", "HEAD"].includes(req.method);
      const headers = new Headers();
      for (const [key, value] of Object.entries(req.headers)) {
        headers.set(key, Array.isArray(value) ? value.join(", ") : value);
      }
      const request = new Request(url, {
        method: req.method,
        headers,
        body: hasBody ? Readable.toWeb(req) : undefined,
        duplex: hasBody ? "half" : undefined,
      });
      const response = await harness.fetch(request);
      res.writeHead(response.status, Object.fromEntries(response.headers));
      if (response.body && req.method !== "HEAD") {
        Readable.fromWeb(response.body).pipe(res);
      } else {
        res.end();
      }
    } catch (error) {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(`harness error: ${error?.stack ?? error}`);
    }
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return server;
}
