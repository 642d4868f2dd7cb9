// Serve the Worker (in the offline harness) over local HTTP for the real `composer` client.
// Test-only control endpoints under /__harness__/ stand in for what an operator would do with wrangler
// or the admin API: create a token, register a source, fire the Cron Trigger.
//
//   node tests/worker/serve.mjs        prints {"ready": <port>}, then one JSON log line per request

import { createHarness, serveHttp } from "./harness.mjs";

// HARNESS_VARS (JSON) adds [vars] for one test, e.g. {"PRIVATE_UPSTREAMS": "allow"}.
const extraVars = JSON.parse(process.env.HARNESS_VARS || "{}");
const h = await createHarness({ echo: true, vars: { SYNC_INTERVAL: "0", ...extraVars } });
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
  // A provider source, as `package-broker source add github PATH --token-env ... --api-url ...` would add
  // it: returns its id and its webhook secret (shown once).
  async provider_source({ provider, path, token, api_url }) {
    const [id, secret] = (
      await h.runPython(
      `
from package_broker.runtimes.cloudflare.worker import app_for
from package_broker.sources.kinds import PROVIDERS
from package_broker.sources.providers.provider import Credentials
from package_broker.sources.providers.register import add_repository
from package_broker.sources.job import sync_source
broker = app_for(env).broker
added = await add_repository(broker, PROVIDERS[provider], path, Credentials(token=token), api_url=api_url)
report = await sync_source(broker, added.source)
assert report.status == "ok", report.message
f"{added.source.id} {added.webhook_secret}"
`,
        { provider, path, token, api_url },
      )
    ).split(" ");
    return { id, secret };
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
