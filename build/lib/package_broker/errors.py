"""The core's exceptions: adapters translate backend errors into these, the web layer maps them to status codes.

BrokerError
├── ConfigError          a setting is missing or wrong; the message names the variable and the fix
├── InvalidInput         the caller sent something we cannot serve (4xx, nothing is stored)
│   ├── InvalidName      a package name Composer would not accept, or a traversal attempt
│   ├── InvalidVersion   a version string Composer's VersionParser rejects
│   ├── InvalidConstraint a version constraint Composer's VersionParser cannot parse
│   ├── InvalidManifest  a composer.json that is not valid JSON or lacks what we need
│   ├── InvalidArchive   an upload that is not a safe zip with a composer.json
│   └── PayloadTooLarge  a body over the configured limit
├── Conflict             the request clashes with what is already served (409)
├── NotFound             no such thing (404)
├── SourceError          a source could not be read (git failed, upstream down); recorded on the source
└── BackendError         a port adapter failed (database, key/value, object store, HTTP)
"""

from __future__ import annotations


class BrokerError(Exception):
    """Base class of every error the core raises on purpose."""


class ConfigError(BrokerError):
    """Configuration is unusable. Raised at start-up so the process exits with one clear line."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class InvalidInput(BrokerError):
    """The caller's input cannot be served; maps to a 4xx and changes nothing."""

    status = 400


class InvalidName(InvalidInput):
    """A package name that Composer would refuse, or an attempt at path traversal."""


class InvalidVersion(InvalidInput):
    """A version string that Composer's VersionParser refuses."""


class InvalidConstraint(InvalidInput):
    """A version constraint (`^1.0 || 2.x`) that Composer's VersionParser cannot parse."""


class InvalidManifest(InvalidInput):
    """A composer.json that is broken or lacks a valid name."""


class InvalidArchive(InvalidInput):
    """An uploaded archive that is not a safe zip containing a composer.json."""

    status = 422


class PayloadTooLarge(InvalidInput):
    """A request body above the configured limit."""

    status = 413


class Conflict(BrokerError):
    """The request clashes with something already served."""

    status = 409


class NotFound(BrokerError):
    """The thing asked for does not exist."""

    status = 404


class SourceError(BrokerError):
    """A package source could not be read; the sync records this on the source and keeps the last good data."""


class BackendError(BrokerError):
    """A database, key/value, object store or HTTP adapter failed."""
