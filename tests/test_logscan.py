"""The suite's log scan (``tests/fixtures/logscan.py``) finds what it must and only in log lines."""

from __future__ import annotations

import orjson
import pytest

from tests.fixtures.logscan import leaks


def line(**fields: object) -> str:
    return orjson.dumps({"event": "request", "level": "info", **fields}).decode()


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("someone@example.com", "email"),
        ("+14155550123", "phone"),
        ("bst_pt_abcdefghijklmnop", "secret"),
        ("bst_cs_abcdefghijklmnop", "secret"),
        ("whsec_c2VjcmV0c2VjcmV0", "secret"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjbGkifQ.sig", "jwt"),
    ],
)
def test_a_log_line_with_personal_data_or_a_secret_is_found(value: str, kind: str) -> None:
    assert leaks(line(path=f"/x/{value}")) == [(kind, line(path=f"/x/{value}"))]


def test_clean_log_lines_and_other_output_pass() -> None:
    text = "\n".join(
        [
            line(route="/client/users/{correlation_id}/sessions", status=200, duration_ms=1.5),
            line(timestamp="2026-11-22T12:00:00+00:00", job_id="job_01m81"),
            "printed by a test: someone@example.com bst_pt_abcdefghijklmnop",
            '{"not": "a log line", "email": "someone@example.com"}',
        ]
    )
    assert leaks(text) == []
