"""The admin API under `/api` (sources, tokens, packages, advisories, users, audit, stats) and its OpenAPI
document.

One route table (routing.py) assembled from one module per resource; each route names the role it needs,
its request and response models, so the dispatcher authenticates and validates before a handler runs and
the OpenAPI document is generated from the same table.
"""
