"""Reading through the connector: incremental SOQL paging, full scans, reads by id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from closedloop.connectors.contract import Page, RowWrite, Watermark
from closedloop.connectors.salesforce.connector import SalesforceConnector
from closedloop.emulators.salesforce import SalesforceEmulator

Admin = Callable[..., Any]
EXTERNAL_ID = "closedloop_id__c"
FIELDS = ["LastName", "Company", "LeadSource"]


def leads(n: int, prefix: str = "lead") -> list[RowWrite]:
    return [
        RowWrite(
            f"{prefix}-{i}",
            "Lead",
            {"LastName": f"L{i}", "Company": "Acme"},
            match=(EXTERNAL_ID, f"{prefix}-{i}"),
        )
        for i in range(n)
    ]


def ids_of(pages: list[Page]) -> list[str]:
    return [r.id for page in pages for r in page.records]


def test_incremental_read_of_5000_changed_leads_pages_once_each(
    provisioned: SalesforceConnector, emulator: SalesforceEmulator, calls: Callable[[str], int]
) -> None:
    assert all(r.ok for r in provisioned.write(leads(5000)))  # one bulk job: many share a ms
    before_reads = calls("GET /services/data/v59.0/query")
    pages = list(provisioned.read_changes("Lead", Watermark(), FIELDS))
    seen = ids_of(pages)
    assert len(seen) == 5000 == len(set(seen))  # exactly once within one read
    assert len(pages) == 3  # 2,000 + 2,000 + 1,000 through nextRecordsUrl
    assert calls("GET /services/data/v59.0/query") - before_reads == 3
    marks = [page.watermark for page in pages]
    assert marks == sorted(marks)
    assert all(r.fields["Company"] == "Acme" for p in pages for r in p.records)

    # Ten leads change ten minutes later. The next read starts at the watermark minus the
    # 2-minute overlap, so the 5,000 written just before the watermark come again (each once)
    # and the ten changed ones come last, with their new values.
    emulator.clock.advance(600)
    changed = [
        RowWrite(f"u{i}", "Lead", {"Company": "Changed"}, record_id=seen[i]) for i in range(10)
    ]
    assert all(r.ok for r in provisioned.write(changed))
    again = [
        r for page in provisioned.read_changes("Lead", marks[-1], FIELDS) for r in page.records
    ]
    assert len(again) == 5000 == len({r.id for r in again})
    assert sorted(r.id for r in again[-10:]) == sorted(seen[:10])
    assert {r.fields["Company"] for r in again[-10:]} == {"Changed"}


def test_overlap_rereads_recent_records_and_deletions_arrive_archived(
    provisioned: SalesforceConnector, emulator: SalesforceEmulator, admin: Admin
) -> None:
    created = provisioned.write(leads(30))
    first = list(provisioned.read_changes("Lead", Watermark(), FIELDS))
    assert len(ids_of(first)) == 30
    # Within the 2-minute overlap: everything comes again (idempotent downstream).
    assert len(ids_of(list(provisioned.read_changes("Lead", first[-1].watermark, FIELDS)))) == 30

    emulator.clock.advance(3600)
    mark = Watermark(emulator.clock.now())
    gone = created[0].record_id
    admin("delete", f"records/Lead/{gone}")
    later = list(provisioned.read_changes("Lead", mark, FIELDS))
    records = [r for p in later for r in p.records]
    assert [(r.id, r.archived) for r in records] == [(gone, True)]


def test_expired_cursor_is_reanchored_without_loss_or_repeat(
    provisioned: SalesforceConnector, emulator: SalesforceEmulator, calls: Callable[[str], int]
) -> None:
    provisioned.write(leads(4500))
    stream = provisioned.read_changes("Lead", Watermark(), FIELDS)
    first = next(stream)
    emulator.clock.advance(3 * 86_400)  # the cursor (2 days) and the session (2 h) both expire
    rest = list(stream)
    seen = ids_of([first, *rest])
    assert len(seen) == 4500 == len(set(seen))
    assert provisioned.describe()["reauthentications"] == 1
    assert calls("GET /services/data/v59.0/queryAll/$") == 2  # the first query, then re-anchored


def test_full_scan_pages_by_id(connector: SalesforceConnector, admin: Admin) -> None:
    admin(
        "post",
        "seed",
        {"leads": 4100, "accounts": 1, "contacts": 0, "opportunities": 0, "campaigns": 0},
    )
    pages = list(connector.read_all("Lead", FIELDS))
    seen = ids_of(pages)
    assert len(seen) == 4100 == len(set(seen))
    assert [len(p.records) for p in pages] == [2000, 2000, 100]
    assert pages[-1].watermark.last_id == seen[-1]


def test_read_records_by_id_leaves_out_unknown_and_malformed_ids(
    provisioned: SalesforceConnector,
) -> None:
    results = provisioned.write(leads(450))
    wanted = [r.record_id or "" for r in results]
    found = provisioned.read_records(
        "Lead", [*wanted, "00Q000000000000AAA", "x' OR Name != '"], ["LastName"]
    )
    assert sorted(r.id for r in found) == sorted(wanted)
    assert {r.fields["LastName"] for r in found} == {f"L{i}" for i in range(450)}


def test_incremental_read_starts_with_the_overlap(
    provisioned: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    provisioned.write(leads(3, prefix="early"))
    mark = list(provisioned.read_changes("Lead", Watermark(), FIELDS))[-1].watermark
    emulator.clock.advance(90)
    provisioned.write(leads(2, prefix="late"))
    # 90 s later is inside the 2-minute overlap: the early ones come again with the late ones.
    assert len(ids_of(list(provisioned.read_changes("Lead", mark, FIELDS)))) == 5
    later = Watermark((mark.modified_at or emulator.clock.now()) + timedelta(seconds=150))
    assert len(ids_of(list(provisioned.read_changes("Lead", later, FIELDS)))) == 2
