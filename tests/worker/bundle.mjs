// The deploy bundle, built the way `npm run deploy` builds it (scripts/vendor-worker, then wrangler), so the
// harness runs what Cloudflare would receive: a module missing from the bundle is missing in the tests too.
//
// Built once per content of its inputs (wrangler.toml, worker-requirements.txt, src/) and kept under
// .cache/worker-bundle/<hash>/; every test file of a run reuses it.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

function* files(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name === "__pycache__") continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* files(full);
    else yield full;
  }
}

function inputsHash(root) {
  const hash = createHash("sha256");
  const inputs = ["wrangler.toml", "worker-requirements.txt", "package-lock.json", "scripts/vendor-worker"];
  for (const file of [...inputs.map((f) => path.join(root, f)), ...files(path.join(root, "src"))]) {
    hash.update(path.relative(root, file)).update("\0").update(fs.readFileSync(file)).update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

/** Path of the bundle `wrangler deploy --dry-run` makes from the current sources (built if needed). */
export function workerBundle(root) {
  const cache = path.join(root, ".cache/worker-bundle");
  const dir = path.join(cache, inputsHash(root));
  if (fs.existsSync(path.join(dir, "entry.py"))) return dir;
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" };
  execFileSync(path.join(root, "scripts/vendor-worker"), { cwd: root, env, stdio: ["ignore", "ignore", "inherit"] });
  const building = `${dir}.building-${process.pid}`;
  fs.rmSync(building, { recursive: true, force: true });
  execFileSync(path.join(root, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", building], {
    cwd: root,
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  for (const stale of fs.readdirSync(cache)) {
    if (stale !== path.basename(building)) fs.rmSync(path.join(cache, stale), { recursive: true, force: true });
  }
  fs.renameSync(building, dir);
  return dir;
}
