// The Worker starts on the Python Cloudflare will run, from what `wrangler deploy` uploads:
// wrangler.toml's date and flags select the Pyodide line and the harness runs exactly that one; the
// bundle carries the `workers` SDK (the runtime stopped shipping it on 2026-04-21) and the core; a bundle
// without the SDK fails to start here as it would there.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { compatFlags, productionRuntime, pyodideLine, readWranglerCompat } from "./compat.mjs";
import { ROOT, checkPyodide, createHarness } from "./harness.mjs";

describe("the Python line", () => {
  const toml = fs.readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");

  test("wrangler.toml selects Pyodide 0.28.2 (Python 3.13), and the harness has exactly that", () => {
    const runtime = productionRuntime(ROOT);
    assert.equal(runtime.line.pyodide, "0.28.2");
    assert.equal(checkPyodide(runtime), "0.28.2");
  });

  test("without no_python_workers_314 this date would run Pyodide 314, which the harness refuses", () => {
    const compat = readWranglerCompat(toml);
    const flags = compatFlags({ ...compat, flags: compat.flags.filter((f) => f !== "no_python_workers_314") });
    const line = pyodideLine(flags);
    assert.deepEqual([line.pyodide, line.python], ["314.0.6", "3.14"]);
    assert.throws(() => checkPyodide({ ...compat, compatFlags: flags, line }), /Cloudflare run Pyodide 314\.0\.6/);
  });

  test("flags follow their dates like workerd's", () => {
    const at = (date, flags = ["python_workers"]) => compatFlags({ date, flags });
    assert.equal(pyodideLine(at("2025-06-01")).pyodide, "0.26.0a2");
    assert.equal(pyodideLine(at("2025-10-01")).pyodide, "0.28.2");
    assert.equal(pyodideLine(at("2026-09-08")).pyodide, "314.0.6");
    assert.equal(pyodideLine(at("2025-10-01", ["python_workers", "python_workers_314"])).pyodide, "314.0.6");
    assert.equal(at("2026-04-20").enable_python_external_sdk, false);
    assert.equal(at("2026-04-21").enable_python_external_sdk, true);
    assert.equal(at("2026-11-30", ["python_workers", "disable_python_external_sdk"]).enable_python_external_sdk, false);
    assert.throws(() => at("2026-11-30", ["python_workers", "python_workers_314", "no_python_workers_314"]), /both/);
    assert.throws(() => compatFlags({ date: "2026-11-30", flags: [] }), /python_workers/);
  });
});

describe("the deploy bundle", () => {
  let out;
  before(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), "pb-dist-"));
    execFileSync(path.join(ROOT, "scripts/vendor-worker"), { cwd: ROOT, stdio: "ignore" });
    execFileSync(path.join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", out], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
      stdio: "ignore",
    });
  });

  test("carries entry.py, the core and the vendored workers SDK with its .pth loader", () => {
    for (const file of [
      "entry.py",
      "package_broker/web/app.py",
      "package_broker/runtimes/cloudflare/worker.py",
      "python_modules/workers/__init__.py",
      "python_modules/workers/entrypoints.py",
      "python_modules/_workers_sdk_patch_loader.pth",
    ]) {
      assert.ok(fs.existsSync(path.join(out, file)), `${file} is missing from the bundle`);
    }
    const metadata = fs.readFileSync(
      path.join(out, "python_modules", fs.readdirSync(path.join(out, "python_modules")).find((f) => f.startsWith("workers_runtime_sdk-")), "METADATA"),
      "utf8",
    );
    const version = metadata.match(/^Version: (\d+)\.(\d+)/m);
    assert.ok(Number(version[1]) > 1 || Number(version[2]) >= 9, `workers-runtime-sdk ${version[0]} is older than 1.9`);
  });

  test("holds no native code and stays far below the Worker size limit", () => {
    const all = [];
    const walk = (dir) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else all.push(full);
      }
    };
    walk(out);
    assert.deepEqual(all.filter((f) => /\.(so|pyd|wasm)$/.test(f)), []);
    const bytes = all.reduce((sum, f) => sum + fs.statSync(f).size, 0);
    assert.ok(bytes < 3 * 1024 * 1024, `${bytes} bytes: the Free plan's limit is 3 MB (compressed)`);
  });

  test("a bundle without the SDK fails to start, as workerd would make it fail", async () => {
    const broken = fs.mkdtempSync(path.join(os.tmpdir(), "pb-nosdk-"));
    fs.cpSync(out, broken, { recursive: true });
    fs.rmSync(path.join(broken, "python_modules/workers"), { recursive: true });
    await assert.rejects(createHarness({ bundleDir: broken }), (error) => {
      assert.match(String(error), /No module named 'workers'/);
      assert.match(String(error), /workers-py >= 1\.9/);
      return true;
    });
  });
});

describe("the running Worker", () => {
  let h;
  before(async () => {
    h = await createHarness();
  });
  after(async () => h?.dispose());

  test("runs Cloudflare's Python 3.13.2 in Pyodide 0.28.2", async () => {
    assert.match(await h.runPython("import sys; sys.version"), /^3\.13\.2/);
    assert.equal(await h.runPython("import pyodide; pyodide.__version__"), "0.28.2");
  });

  test("imports the SDK and the core from the bundle, never from anywhere else", async () => {
    const where = (await h.runPython(`
import entry, package_broker, workers
[workers.__file__, package_broker.__file__, entry.__file__]
`)).toJs();
    assert.deepEqual(where, [
      "/session/metadata/python_modules/workers/__init__.py",
      "/session/metadata/package_broker/__init__.py",
      "/session/metadata/entry.py",
    ]);
  });

  test("entry.py imports nothing with native code (no pydantic on the Composer path)", async () => {
    const loaded = await h.runPython(
      "import sys; sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core', 'httpx', 'aiosqlite', 'granian', 'cryptography'))",
    );
    assert.deepEqual(loaded.toJs(), []);
  });
});
