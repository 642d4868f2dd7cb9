// Start the Python fixture upstream (tests/fixtures/composer_repo.py, a real Composer 2 repository over
// HTTP) from Node tests, and drive it through its /__fixture__ endpoints.

import { spawn } from "node:child_process";
import path from "node:path";
import { ROOT } from "./harness.mjs";

export async function startUpstream({ user, password } = {}) {
  const python = path.join(ROOT, ".venv/bin/python");
  const args = ["-m", "tests.fixtures.composer_repo", ...(user ? ["--user", user, "--password", password] : [])];
  const child = spawn(python, args, { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
  const port = await new Promise((resolve, reject) => {
    child.once("error", reject);
    child.stdout.once("data", (data) => resolve(JSON.parse(String(data).split("\n")[0]).port));
  });
  const url = `http://127.0.0.1:${port}`;
  const post = async (what, body) => (await fetch(`${url}/__fixture__/${what}`, { method: "POST", body: JSON.stringify(body) })).json();
  return {
    url,
    release: (name, version, files) => post("release", { name, version, files }),
    withdraw: (name, version) => post("withdraw", { name, version }),
    requests: () => post("requests", {}),
    stop: () => child.stdin.end(),
  };
}
