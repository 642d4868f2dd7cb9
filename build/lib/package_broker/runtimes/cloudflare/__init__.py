"""The Cloudflare Workers runtime: adapters over D1, KV, R2 and `fetch`, and the bridge between the
Workers `Request`/`Response` and the core's. Imported only inside Pyodide (it needs `js` and `pyodide`).
"""
