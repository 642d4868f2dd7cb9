"""PRIVATE_UPSTREAMS: which URLs an upstream may send the broker to (sources/addresses.py)."""

from __future__ import annotations

import pytest

from package_broker.errors import SourceError
from package_broker.sources.addresses import check_upstream_url

SOURCE = "https://satis.internal:8443/repo"


async def resolver_of(table: dict[str, list[str]]) -> object:
    async def resolve(host: str) -> list[str]:
        return table[host]

    return resolve


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.zip",
        "http://localhost:8080/health",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/x.zip",
        "http://[::1]/x.zip",
        "http://[fd00::1]/x.zip",
        "http://0.0.0.0/x.zip",
        "http://100.64.0.1/x.zip",
        "http://metadata.example/computeMetadata",  # resolves to a link-local address
    ],
)
async def test_other_private_addresses_are_refused_under_same_host(url: str) -> None:
    resolve = await resolver_of({"metadata.example": ["169.254.169.254"]})
    with pytest.raises(SourceError, match="non-public address"):
        await check_upstream_url(url, SOURCE, "same-host", resolve)  # type: ignore[arg-type]


async def test_the_sources_own_origin_and_public_hosts_pass() -> None:
    resolve = await resolver_of({"satis.internal": ["10.0.0.5"], "cdn.example": ["93.184.216.34"]})
    await check_upstream_url("https://satis.internal:8443/dists/a.zip", SOURCE, "same-host", resolve)  # type: ignore[arg-type]
    await check_upstream_url("https://cdn.example/a.zip", SOURCE, "same-host", resolve)  # type: ignore[arg-type]
    with pytest.raises(SourceError):  # same host, another port: another service
        await check_upstream_url("https://satis.internal:9000/admin", SOURCE, "same-host", resolve)  # type: ignore[arg-type]


async def test_allow_and_deny() -> None:
    await check_upstream_url("http://127.0.0.1/x", SOURCE, "allow", None)
    with pytest.raises(SourceError, match="PRIVATE_UPSTREAMS=deny"):
        await check_upstream_url("http://127.0.0.1/x", "http://127.0.0.1/", "deny", None)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x.zip", "gopher://x/", "http:///nohost"])
async def test_only_http_urls_are_fetched(url: str) -> None:
    with pytest.raises(SourceError, match="only http"):
        await check_upstream_url(url, SOURCE, "allow", None)


async def test_without_a_resolver_only_literal_addresses_count() -> None:
    await check_upstream_url("http://internal.example/x.zip", SOURCE, "same-host", None)  # Workers: no DNS here
