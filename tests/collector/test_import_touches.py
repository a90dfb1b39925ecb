"""``closedloop import-touches`` through the real command, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select

from closedloop.store.engine import create_store_engine
from closedloop.store.schema import touchpoints
from closedloop.sync.identity import IdentityStore
from closedloop.sync.ledger import TouchLedger
from closedloop.sync.model import RecordRef

HEADER = "email,record_ref,occurred_at,touch_type,utm_source,utm_medium,utm_campaign,channel,external_id\n"  # noqa: E501
MIXED = HEADER + (
    "ann@example.com,,2026-03-01T09:30:00Z,call,,,,,call-1\n"  # row 2: good
    ",salesforce:Lead:00Q000000000001AAA,2026-03-02T10:00:00+01:00,event,expo,event,Expo 26,,\n"
    "bob@example.com,,yesterday,call,,,,,\n"  # row 4: bad time
    ",,2026-03-03T12:00:00Z,meeting,,,,,\n"  # row 5: no person
    "carl@example.com,not-a-ref,2026-03-03,trade show,,,,,\n"  # row 6: bad ref and touch type
    "dana@example.com,,2026-03-04,meeting,partner,referral,,Partners,meet-9\n"  # row 7: good
    "erin@example.com,,2026-03-05T08:00:00Z,call,,,,,call-1\n"  # row 8: duplicate id
)


@pytest.fixture
def cli(run_cli: Callable[..., Any], database_url: str) -> Callable[..., Any]:
    def run(*args: str) -> Any:
        return run_cli(*args, env={"CLOSEDLOOP__DATABASE__URL": database_url})

    return run


def write(tmp_path: Path, text: str, name: str = "touches.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_rows_land_and_bad_rows_are_named(
    cli: Callable[..., Any], tmp_path: Path, database_url: str
) -> None:
    path = write(tmp_path, MIXED)
    dry = cli("import-touches", str(path), "--dry-run", "--format", "json")
    assert dry.code == 1
    report = json.loads(dry.stdout)
    assert (report["dry_run"], report["valid"], report["rejected"]) == (True, 3, 4)
    assert "imported" not in report
    assert "error: 4 of 7 rows rejected (listed in the JSON errors)" in dry.stderr
    store = create_store_engine(database_url)
    try:
        assert inspect(store).get_table_names() == []  # not even migrated
    finally:
        store.dispose()

    result = cli("import-touches", str(path))
    assert result.code == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith(str(path))]
    assert f"{path}:4: occurred_at: not an ISO-8601 timestamp (e.g. 2026-03-01T09:30:00Z)" in errors
    assert f"{path}:5: email: required: an email or a record_ref" in errors
    assert any(line.startswith(f"{path}:6: record_ref:") for line in errors)
    assert any(line.startswith(f"{path}:6: touch_type:") for line in errors)
    assert f"{path}:8: external_id: duplicate of row 2" in errors
    assert "error: 4 of 7 rows rejected (listed above)" in result.stderr
    assert "imported 3 new touches from 7 rows" in result.stdout

    store = create_store_engine(database_url)
    try:
        identity, ledger = IdentityStore(store), TouchLedger(store)
        ann = identity.find("ann@example.com")
        assert ann is not None
        [call] = ledger.touches_of(ann)
        assert (call.origin, call.utm_source, call.utm_medium) == ("offline", "offline", "call")
        assert (call.channel, call.external_id) == ("Offline", "call-1")
        lead = identity.person_of(RecordRef("salesforce", "Lead", "00Q000000000001AAA"))
        assert lead is not None
        [expo] = ledger.touches_of(lead)
        assert (expo.utm_campaign, expo.channel) == (
            "Expo 26",
            "Events",
        )  # medium event: the Events channel
        dana = identity.find("dana@example.com")
        assert dana is not None
        assert [t.channel for t in ledger.touches_of(dana)] == ["Partners"]
        assert identity.find("bob@example.com") is None
    finally:
        store.dispose()

    again = cli("import-touches", str(path), "--format", "json")
    assert again.code == 1
    report = json.loads(again.stdout)
    assert report["imported"] == 0
    assert report["already_present"] == 1
    assert report["skipped_external_ids"] == 2
    assert report["rejected"] == 4
    assert {"row": 8, "column": "external_id", "reason": "duplicate of row 2"} in report["errors"]


def test_an_edited_row_with_a_known_external_id_is_not_added_again(
    cli: Callable[..., Any], tmp_path: Path, database_url: str
) -> None:
    first = write(tmp_path, HEADER + "ann@example.com,,2026-03-01T09:30:00Z,call,,,,,c-7\n")
    assert cli("import-touches", str(first)).code == 0
    fixed = write(
        tmp_path, HEADER + "ann@example.com,,2026-03-01T11:00:00Z,call,,,,,c-7\n", "b.csv"
    )
    result = cli("import-touches", str(fixed), "--format", "json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["skipped_external_ids"] == 1
    store = create_store_engine(database_url)
    try:
        with store.connect() as conn:
            assert len(conn.execute(select(touchpoints.c.id)).all()) == 1
    finally:
        store.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_unusable_files_exit_2(cli: Callable[..., Any], tmp_path: Path) -> None:
    cases = {
        "no_time.csv": (b"email,touch_type\nann@example.com,call\n", "column(s): occurred_at"),
        "no_person.csv": (b"occurred_at,utm_source\n2026-03-01,x\n", "email (or record_ref)"),
        "binary.csv": (b"email,occurred_at\n\xff\xfe\x00bad\n", "cannot read"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        result = cli("import-touches", str(path))
        assert result.code == 2, (name, result.stderr)
        assert message in result.stderr
        assert "hint:" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_clean_file_exits_0(cli: Callable[..., Any], tmp_path: Path) -> None:
    rows = "".join(
        f"p{i}@example.com,,2026-03-01T09:{i % 60:02d}:00Z,call,,,,,\n" for i in range(1_200)
    )
    result = cli("import-touches", str(write(tmp_path, HEADER + rows)))
    assert result.code == 0, result.stderr
    assert "imported 1200 new touches from 1200 rows" in result.stdout
