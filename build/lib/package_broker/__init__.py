"""PACKAGE.broker: a private Composer repository that runs as a Cloudflare Python Worker or a server."""

__version__ = "0.1.0"
