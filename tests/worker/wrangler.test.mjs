// wrangler and the broker agree: migrations applied by `wrangler d1 migrations apply --local` are not
// applied again by the broker's migrator (and the other way round), and `wrangler deploy --dry-run`
// bundles the Worker with the whole core.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { ROOT, createHarness, migrationNames } from "./harness.mjs";

const wrangler = (...args) =>
  execFileSync(path.join(ROOT, "node_modules/.bin/wrangler"), args, {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
  });

test("migrations applied by wrangler are recognised by the broker's migrator", async () => {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), "pb-wrangler-"));
  const output = wrangler("d1", "migrations", "apply", "package-broker-db", "--local", "--persist-to", state);
  assert.match(output, /0001_initial\.sql/);
  const h = await createHarness({ persistDir: path.join(state, "v3") });
  try {
    assert.deepEqual(await h.migrate(), []);
    const tables = await h.env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'tokens'").all();
    assert.equal(tables.results.length, 1);
  } finally {
    await h.dispose();
  }
});

test("migrations applied by the broker leave nothing for wrangler to apply", async () => {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), "pb-wrangler-"));
  const h = await createHarness({ persistDir: path.join(state, "v3") });
  try {
    assert.deepEqual(await h.migrate(), migrationNames());
  } finally {
    await h.dispose();
  }
  const output = wrangler("d1", "migrations", "list", "package-broker-db", "--local", "--persist-to", state);
  assert.match(output, /No migrations to apply/);
});

test("a token and a source made with `package-broker ... --sql` work on the Worker after `wrangler d1 execute`", async () => {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), "pb-wrangler-"));
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
  const cli = (...args) => {
    const result = spawnSync(path.join(ROOT, ".venv/bin/package-broker"), args, {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, ENCRYPTION_KEY: key, DATA_DIR: path.join(state, "unused") },
    });
    assert.equal(result.status, 0, result.stderr);
    return result;
  };
  const token = cli("token", "create", "-d", "from sql", "--permission", "readonly", "--sql");
  const secret = token.stderr.match(/pkb_[0-9A-Za-z]{42}/)[0];
  fs.writeFileSync(path.join(state, "token.sql"), token.stdout);
  const source = cli("source", "add", "composer", "https://user:pw@satis.example.com", "--sql");
  assert.ok(!source.stdout.includes("pw@") && !token.stdout.includes(secret));
  fs.writeFileSync(path.join(state, "source.sql"), source.stdout);
  assert.ok(!fs.existsSync(path.join(state, "unused")), "--sql must not touch local data");

  wrangler("d1", "migrations", "apply", "package-broker-db", "--local", "--persist-to", state);
  for (const file of ["token.sql", "source.sql"]) {
    wrangler("d1", "execute", "package-broker-db", "--local", "--persist-to", state, "--file", path.join(state, file));
  }

  const h = await createHarness({ persistDir: path.join(state, "v3"), vars: { ENCRYPTION_KEY: key } });
  try {
    const response = await h.fetch("http://broker.test/packages.json", {
      headers: { authorization: "Basic " + btoa(`token:${secret}`) },
    });
    assert.equal(response.status, 200);
    const row = await h.env.DB.prepare("SELECT url, credentials FROM sources").first();
    assert.equal(row.url, "https://satis.example.com");
    const opened = await h.runPython(
      `
from package_broker.runtimes.cloudflare.worker import app_for
values = await app_for(env).broker.open_credentials(sealed)
values["username"] + ":" + values["password"]
`,
      { sealed: row.credentials },
    );
    assert.equal(opened, "user:pw");
  } finally {
    await h.dispose();
  }
});
