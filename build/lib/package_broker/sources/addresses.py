"""Where an upstream may send the broker: the policy for private addresses (PRIVATE_UPSTREAMS).

A mirrored repository names URLs the broker then fetches (dist archives, metadata). A hostile one can name
the broker's own admin endpoints, a cloud metadata service (169.254.169.254) or anything else on the
private network the broker sits in. The policy:

* `same-host` (default): a URL the upstream names may point to a loopback, private, link-local or other
  non-public address only if it is on the configured source's own scheme, host and port (an internal
  Satis serving its own dists keeps working; anything else on the private network is refused);
* `allow`: any address (a broker mirroring several internal hosts);
* `deny`: only public addresses, even for the source's own host.

Host names are resolved where the runtime can (the server); a Worker has no resolver, and Cloudflare's
network does not route to private addresses anyway, so there only literal addresses and `localhost` count.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from ..errors import SourceError

POLICIES = ("same-host", "allow", "deny")
#: Resolves a host name to its addresses (the server's getaddrinfo); None where the runtime has none.
Resolver = Callable[[str], Awaitable[list[str]]]


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _non_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    return not ip.is_global or ip.is_multicast


async def _addresses(host: str, resolve: Resolver | None) -> list[str]:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return ["127.0.0.1"]
    try:
        ipaddress.ip_address(host.strip("[]"))
        return [host.strip("[]")]
    except ValueError:
        pass
    if resolve is None:
        return []
    try:
        return await resolve(host)
    except OSError:
        return []  # unresolvable: the request itself will fail and say so


async def check_upstream_url(url: str, source_url: str, policy: str, resolve: Resolver | None) -> None:
    """Raise SourceError if the policy forbids fetching `url`, which the upstream of `source_url` named.

    Raises:
        SourceError: `url` is not http(s), or points to a non-public address the policy does not allow.
    """
    scheme, host, _ = _origin(url)
    if scheme not in ("http", "https") or not host:
        raise SourceError(f"refusing {scheme or 'a'} URL from the upstream: only http(s) is fetched")
    if policy == "allow" or (policy == "same-host" and _origin(url) == _origin(source_url)):
        return
    private = [a for a in await _addresses(host, resolve) if _non_public(a)]
    if private:
        raise SourceError(
            f"refusing {host}: it is a non-public address ({private[0]}) and PRIVATE_UPSTREAMS={policy} "
            "allows only the source's own host there (set PRIVATE_UPSTREAMS=allow to mirror internal hosts)"
            if policy == "same-host"
            else f"refusing {host}: it is a non-public address ({private[0]}) and PRIVATE_UPSTREAMS=deny"
        )
