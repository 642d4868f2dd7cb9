// Serve the Worker (in the offline harness) over local HTTP for the real `composer` client.
// Test-only control endpoints under /__harness__/ stand in for what an operator would do with wrangler
// or the admin API: create a token, register a source, fire the Cron Trigger.
//
//   node tests/worker/serve.mjs        prints {"ready": <port>}, then one JSON log line per request

import { createHarness, serveHttp } from "./harness.mjs";

const h = await createHarness({ echo: true, vars: { SYNC_INTERVAL: "0" } });
await h.migrate();

const control = {
  async token({ permission = "readonly" }) {
    return { token: await h.createToken(permission) };
  },
  async source({ kind, url }) {
    const id = await h.runPython(
      `
from package_broker.runtimes.cloudflare.worker import app_for
(await app_for(env).broker.sources.add(kind, url)).id
`,
      { kind, url },
    );
    return { id };
  },
  async scheduled() {
    await h.scheduled("*/5 * * * *");
    return { ok: true };
  },
};

const server = await serveHttp(h, 0, async (name, body) => control[name]?.(body));
process.stdout.write(JSON.stringify({ ready: server.address().port }) + "\n");
process.stdin.on("end", async () => {
  server.close();
  await h.dispose();
  process.exit(0);
});
process.stdin.resume();
