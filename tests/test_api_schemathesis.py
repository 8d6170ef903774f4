"""Schemathesis against the live server with its own /api/schema/ (issue 13): every
operation gets generated requests (valid by the schema, a few per operation so the suite
stays short) as a signed-in creator over HTTP Basic; no response is a server error and
every response conforms to the schema where it documents one."""

from __future__ import annotations

import base64

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

# Generated requests per operation: enough to vary bodies and parameters, small enough for
# the whole suite's time budget on a shared 2-core machine.
EXAMPLES_PER_OPERATION = 2
PASSWORD = "pw-Chronos-123"  # tests.factories.UserFactory's


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_every_api_operation_answers_without_server_errors_and_as_documented(live_server, creator):
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")
    token = base64.b64encode(f"{creator.owner.email}:{PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    checks = [not_a_server_error, response_schema_conformance]
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case):
            response = case.call(base_url=live_server.url, headers=headers, timeout=60)
            case.validate_response(response, checks=checks, headers=headers)

        try:
            exercise()
        except Exception as exc:  # one failing operation must not hide the others
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
    assert operations >= 20  # the schema lists the API, not a stub
    assert not failures, "\n\n".join(failures)
