"""Schemathesis over the OpenAPI schema against the real server: no input makes a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine

from kavach.auth.models import Role
from tests.web.helpers import LiveServer, make_keys


@pytest.fixture(scope="module")
def fuzz_key(server: LiveServer, engine: Engine) -> str:
    # Spare keys first, so that the fuzzer's favourite small ids (DELETE /apikeys/1) revoke one
    # of them rather than the key the run uses.
    for i in range(12):
        make_keys(engine, f"Spare {i}", (Role.REVIEWER,))
    return make_keys(engine, "Fuzz Org", (Role.ADMIN,))[Role.ADMIN]


@pytest.fixture(scope="module")
def api_schema(server: LiveServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


@pytest.mark.slow
def test_no_server_errors(
    api_schema: schemathesis.BaseSchema, server: LiveServer, fuzz_key: str
) -> None:
    # Operations are walked here rather than through schemathesis' pytest plugin, which does not
    # work with this pytest version; each gets its own Hypothesis run.
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {fuzz_key}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=server.url, headers=headers, timeout=30)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )

        run()
    assert failures == []
