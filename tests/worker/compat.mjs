// What Cloudflare's runtime will be for this Worker, read from wrangler.toml the way workerd reads it:
// the compatibility date and flags decide which Python (Pyodide line) runs, whether the runtime still
// ships the `workers` SDK, and whether .pth files in python_modules/ are processed.
//
// The table below was read off workerd 1.20261117.1 (the newest release; its compatibility-date.capnp is
// embedded in the binary: `strings node_modules/@cloudflare/workerd-linux-64/bin/workerd`). Only the flags
// that change how a Python Worker starts are listed. The harness runs exactly what these select, and
// refuses to start when the installed `pyodide` package is not that line.

import fs from "node:fs";
import path from "node:path";

/** name: [enable flag, disable flag, date from which it is on by default (null: only by flag)]. */
export const PYTHON_FLAGS = {
  python_workers_20250116: ["python_workers_20250116", "no_python_workers_20250116", "2025-09-29"],
  python_workers_20260610: ["python_workers_20260610", "no_python_workers_20260610", null],
  python_workers_314: ["python_workers_314", "no_python_workers_314", "2026-09-08"],
  enable_python_external_sdk: ["enable_python_external_sdk", "disable_python_external_sdk", "2026-04-21"],
  python_process_pth_files: ["python_process_pth_files", "disable_python_process_pth_files", "2026-05-26"],
  python_workflows_implicit_dependencies: [
    "python_workflows_implicit_dependencies",
    "no_python_workflows_implicit_dependencies",
    "2026-02-25",
  ],
};

/** Pyodide releases workerd bundles, newest first: the first whose flag is on runs (python_workers alone: 0.26). */
export const PYODIDE_LINES = [
  { flag: "python_workers_314", pyodide: "314.0.6", python: "3.14" },
  { flag: "python_workers_20260610", pyodide: "314.0.4", python: "3.14" },
  { flag: "python_workers_20250116", pyodide: "0.28.2", python: "3.13" },
];

/** `compatibility_date` and `compatibility_flags` of a wrangler.toml text. */
export function readWranglerCompat(toml) {
  const date = toml.match(/^compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m)?.[1];
  const list = toml.match(/^compatibility_flags\s*=\s*\[([^\]]*)\]/m)?.[1] ?? "";
  const flags = [...list.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  if (!date) throw new Error("wrangler.toml has no compatibility_date");
  return { date, flags };
}

/** The Python-related compatibility flags as workerd computes them for a date and a list of flags. */
export function compatFlags({ date, flags }) {
  if (!flags.includes("python_workers")) throw new Error('wrangler.toml must list "python_workers" in compatibility_flags');
  const result = { python_workers: true };
  for (const [name, [enable, disable, since]] of Object.entries(PYTHON_FLAGS)) {
    if (flags.includes(enable) && flags.includes(disable)) throw new Error(`wrangler.toml sets both ${enable} and ${disable}`);
    result[name] = flags.includes(enable) || (!flags.includes(disable) && since !== null && date >= since);
  }
  return result;
}

/** The Pyodide line (version and Python) that production runs for these flags. */
export function pyodideLine(flags) {
  return PYODIDE_LINES.find((line) => flags[line.flag]) ?? { flag: "python_workers", pyodide: "0.26.0a2", python: "3.12" };
}

/** Everything the harness needs to behave like production, from the project's wrangler.toml. */
export function productionRuntime(root) {
  const compat = readWranglerCompat(fs.readFileSync(path.join(root, "wrangler.toml"), "utf8"));
  const flags = compatFlags(compat);
  return { ...compat, compatFlags: flags, line: pyodideLine(flags) };
}
