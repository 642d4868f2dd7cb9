"""Schemathesis against the live server's own /api/openapi.json: generated requests (valid and invalid) to
every operation, as an admin, as a viewer and anonymously. No answer may be a 5xx, every answer must match
the status codes, content type and schema the document declares, unauthenticated calls get 401 and a
viewer's writes get 403."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from tests.conftest import BrokerServer

PASSWORD = "correct horse battery staple"
#: Operations that would end the session the run uses (they are tested in test_admin_api.py and by accounts).
SESSION_ENDING = {("DELETE", "/api/session"), ("POST", "/api/session/logout-all"), ("POST", "/api/me/password")}
#: Operations that reach upstreams: fuzzed sources point anywhere, and this network has no route to them.
REACHES_UPSTREAMS = {("POST", "/api/sources/sync"), ("POST", "/api/sources/{source_id}/sync")}
#: Schema-valid data may still be refused with a 400 that says why (a wrong TOTP code, a bare vendor prefix
#: as a grant): the API's contract is "valid shape, then the core's rules", so acceptance is not required.
EXCLUDED = [positive_data_acceptance]
FUZZ = settings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@schemathesis.serializer("application/zip")
def _zip_body(_: Any, value: Any) -> bytes:
    """Upload bodies: whatever was generated, as bytes (never a valid zip: refused with a 4xx)."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerServer]:
    running = BrokerServer(
        tmp_path_factory.mktemp("schemathesis") / "server",
        extra_env={"PASSWORD_ITERATIONS": "10000", "AUTH_FAILURE_LIMIT": "100000", "ADMIN_TEST_PASSWORD": PASSWORD},
    ).start()
    try:
        for name, role in (("alice", "admin"), ("victor", "viewer")):
            running.cli("user", "create", name, "--role", role, "--password-env", "ADMIN_TEST_PASSWORD")
        yield running
    finally:
        running.stop()


def sign_in(server: BrokerServer, name: str) -> Session:
    response = httpx.post(f"{server.url}/api/session", json={"name": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    match = re.match(r"pkb_session=([^;]+)", response.headers["set-cookie"])
    assert match
    return Session({"pkb_session": match[1]}, {"x-csrf-token": response.json()["csrf_token"]})


@dataclass(frozen=True)
class Session:
    """A signed-in user's cookie and CSRF header, given to every generated request (never mutated by the
    invalid-data generation, which then varies the rest)."""

    cookies: dict[str, str]
    headers: dict[str, str]


@pytest.fixture(scope="module")
def admin(live: BrokerServer) -> Session:
    return sign_in(live, "alice")


@pytest.fixture(scope="module")
def viewer(live: BrokerServer) -> Session:
    return sign_in(live, "victor")


@pytest.fixture(scope="module")
def operations(live: BrokerServer) -> list[Any]:
    document = schemathesis.openapi.from_url(f"{live.url}/api/openapi.json")
    return [result.ok() for result in document.get_all_operations()]


def _key(case: Any) -> tuple[str, str]:
    return case.operation.method.upper(), case.operation.path


def _role(case: Any) -> str:
    return str(case.operation.definition.raw.get("x-role", "admin"))


def _tame(case: Any) -> None:
    """Keep a generated source from being synced on the spot (its URL leads nowhere reachable)."""
    if _key(case) == ("POST", "/api/sources") and isinstance(case.body, dict) and case.body.get("sync"):
        case.body["sync"] = False


def fuzz(operations: list[Any], check: Callable[[Any], None], session: Session | None = None) -> int:
    """Run `check` on generated cases of every operation, valid and invalid ones; return how many operations."""
    ran = 0
    for operation in operations:
        if (operation.method.upper(), operation.path) in SESSION_ENDING | REACHES_UPSTREAMS:
            continue
        for mode in GenerationMode:

            @FUZZ
            @given(
                case=operation.as_strategy(
                    generation_mode=mode,
                    cookies=session.cookies if session else None,
                    headers=session.headers if session else None,
                )
            )
            def one(case: Any) -> None:
                _tame(case)
                check(case)

            try:
                one()
            except Unsatisfiable:
                # Nothing to make invalid (no parameters, no body): only the valid requests apply.
                assert mode is GenerationMode.NEGATIVE, operation.label
        ran += 1
    return ran


def _not_a_server_error(case: Any, response: Any) -> None:
    assert response.status_code < 500, f"{case.operation.label}: {response.status_code} {response.text[:500]}"


def test_admin_calls_conform_and_never_fail(operations: list[Any], admin: Session) -> None:
    def check(case: Any) -> None:
        response = case.call()
        _not_a_server_error(case, response)
        case.validate_response(response, excluded_checks=EXCLUDED)

    assert fuzz(operations, check, admin) >= 20


def test_viewers_read_and_get_403_on_every_write(operations: list[Any], viewer: Session) -> None:
    def check(case: Any) -> None:
        response = case.call()
        _not_a_server_error(case, response)
        if _role(case) == "admin":
            assert response.status_code == 403, f"{case.operation.label}: {response.status_code} {response.text[:300]}"
        case.validate_response(response, excluded_checks=EXCLUDED)

    assert fuzz(operations, check, viewer) >= 20


def test_anonymous_calls_get_401(operations: list[Any]) -> None:
    def check(case: Any) -> None:
        response = case.call()
        _not_a_server_error(case, response)
        if _role(case) != "public":
            assert response.status_code == 401, f"{case.operation.label}: {response.status_code} {response.text[:300]}"
            assert response.json()["error"] == "Unauthorized"
        case.validate_response(response, excluded_checks=EXCLUDED)

    assert fuzz(operations, check) >= 20
