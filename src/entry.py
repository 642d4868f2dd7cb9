"""PACKAGE.broker as a Cloudflare Python Worker: the entrypoint workerd loads (wrangler.toml `main`).

Thin on purpose: requests go to the core's HTTP app, the Cron Trigger runs the sync job. The adapters
over D1, KV, R2 and fetch live in package_broker/runtimes/cloudflare/.
"""

from workers import WorkerEntrypoint

from package_broker.runtimes.cloudflare.worker import handle_fetch, handle_scheduled


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await handle_fetch(request, self.env, self.ctx)

    async def scheduled(self, controller, env, ctx):
        await handle_scheduled(controller, env, ctx)
