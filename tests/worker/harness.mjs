// The offline Worker harness: the real src/entry.py, the real `workers` SDK and real Pyodide 0.28.2
// (Cloudflare's Python 3.13.2), with D1, KV and R2 provided by Miniflare (workerd's own implementations).
//
// workerd cannot start a Python Worker without internet access (it downloads Cloudflare's Pyodide
// bundle), so the Python side runs in Node's Pyodide and the bindings run in Miniflare; handlers are
// called the way workerd's entrypoint helper calls them (fetch "relaxed", scheduled strictly with
// (controller, env, ctx); arguments through python_from_rpc, results through python_to_rpc).
// See shared/reference/python-workers-offline.md for why, and for the gaps this leaves.

import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { loadPyodide } from "pyodide";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SDK_DIR = path.join(ROOT, ".cache/workers-sdk");

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

// Miniflare's Node-side binding proxies, renamed so the workers SDK recognises them as workerd's classes.
// `batch()` gets the unwrapped statements back: Miniflare serialises them to send them to workerd.
const unwrapped = new WeakMap();
const unwrap = (value) => (Array.isArray(value) ? value.map((v) => unwrapped.get(v) ?? v) : value);
function named(name, target) {
  const Class = { [name]: class {} }[name];
  const proxy = new Proxy(new Class(), {
    get(_t, prop) {
      if (prop === "constructor") return Class;
      if (prop === "then") return undefined;
      const value = target[prop];
      if (typeof value !== "function") return value;
      return (...args) => {
        const result = value.apply(target, prop === "batch" ? args.map(unwrap) : args);
        if (name === "D1Database" && prop === "prepare") return named("D1PreparedStatement", result);
        if (name === "D1PreparedStatement" && prop === "bind") return named("D1PreparedStatement", result);
        return result;
      };
    },
  });
  unwrapped.set(proxy, target);
  return proxy;
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

/**
 * Start Miniflare (bindings) and Pyodide (the Worker). `persistDir` defaults to a fresh temp dir;
 * pass `.wrangler/state/v3` to share state with `wrangler ... --local`.
 */
export async function createHarness({ persistDir, vars = {}, echo = false } = {}) {
  if (!fs.existsSync(path.join(SDK_DIR, "workers"))) {
    throw new Error(`${SDK_DIR} is missing: run scripts/setup --test (it installs workers-runtime-sdk there)`);
  }
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
  const env = {
    // The secret `npx wrangler secret put ENCRYPTION_KEY` would set.
    ENCRYPTION_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"),
    ...vars,
    [ids.d1.binding]: named("D1Database", await mf.getD1Database(ids.d1.binding)),
    [ids.kv.binding]: named("KvNamespace", await mf.getKVNamespace(ids.kv.binding)),
    [ids.r2.binding]: named("R2Bucket", await mf.getR2Bucket(ids.r2.binding)),
  };

  const logs = [];
  const output = (line) => {
    logs.push(line);
    if (echo) process.stdout.write(line + "\n");
  };
  const py = await loadPyodide({ stdout: output, stderr: output });
  // Pyodide refuses to mount a symlink (a worktree may link .cache to the main checkout's): resolve it.
  py.mountNodeFS("/sdk", fs.realpathSync(SDK_DIR));
  py.mountNodeFS("/worker", path.join(ROOT, "src"));
  const vendored = path.join(ROOT, "python_modules");
  if (fs.existsSync(vendored)) py.mountNodeFS("/python_modules", vendored);
  py.registerJsModule("_cloudflare_compat_flags", { python_workflows_implicit_dependencies: false });
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
  const started = performance.now();
  py.runPython(`
import sys, inspect
sys.path[:0] = ["/worker", "/python_modules", "/sdk"]
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
`);
  const importMs = performance.now() - started;
  const call = py.globals.get("_call");

  const newInstance = (ctx) => py.globals.get("entry").Default(ctx, env);
  const harness = {
    mf,
    env,
    py,
    logs,
    importMs,
    persistRoot,
    /** Call the Worker's fetch() like workerd does; resolves to a JS Response once waitUntil work is done. */
    async fetch(input, init) {
      const ctx = new ExecutionContext();
      const request = input instanceof Request ? input : new Request(input, init);
      // A class-based entrypoint's fetch() receives only the request (env and ctx live on the instance).
      const response = await call(newInstance(ctx), "fetch", true, request);
      await ctx.drain();
      return response;
    },
    /** Fire the Cron Trigger. */
    async scheduled(cron = "*/5 * * * *", scheduledTime = Date.now()) {
      const ctx = new ExecutionContext();
      await call(newInstance(ctx), "scheduled", false, new ScheduledController(cron, scheduledTime), env, ctx);
      await ctx.drain();
    },
    /** Run Python in the Worker's interpreter (test set-up only): `env` is the bindings object. */
    async runPython(code, globals = {}) {
      const scope = py.globals.get("dict")();
      scope.set("env", env);
      for (const [name, value] of Object.entries(globals)) scope.set(name, py.toPy(value));
      try {
        return await py.runPythonAsync(code, { globals: scope });
      } finally {
        scope.destroy();
      }
    },
    /** Apply migrations/*.sql through the D1 binding with the broker's own migrator (ledger d1_migrations). */
    async migrate() {
      const dir = path.join(ROOT, "migrations");
      const files = fs.readdirSync(dir).filter((f) => f.endsWith(".sql")).sort();
      const sql = Object.fromEntries(files.map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]));
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
