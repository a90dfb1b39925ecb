"""The admin-only write log: every applied create and update, repeated writes included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simple_salesforce import Salesforce


def test_every_applied_write_is_logged_with_its_fields_route_and_author(
    sf: Salesforce, admin: Callable[..., Any]
) -> None:
    lead_id = sf.Lead.create({"LastName": "Hopper", "Company": "Navy"})["id"]
    sf.Lead.update(lead_id, {"Phone": "+1 555 0100"})
    sf.Lead.update(lead_id, {"Phone": "+1 555 0100"})  # the same values again: still a write
    admin("patch", f"records/Lead/{lead_id}", {"Title": "Rear Admiral"})
    account = sf.Account.create({"Name": "Navy"})["id"]

    log = admin("get", "write-log?object=Lead")
    entries = log["entries"]
    assert log["count"] == len(entries) == 4
    assert [(e["kind"], e["id"], e["fields"], e["by"]) for e in entries] == [
        ("create", lead_id, {"Company": "Navy", "LastName": "Hopper"}, "api"),
        ("update", lead_id, {"Phone": "+1 555 0100"}, "api"),
        ("update", lead_id, {"Phone": "+1 555 0100"}, "api"),
        ("update", lead_id, {"Title": "Rear Admiral"}, "admin"),
    ]
    assert entries[0]["route"] == "POST /services/data/v59.0/sobjects/Lead/"
    assert entries[1]["route"] == f"PATCH /services/data/v59.0/sobjects/Lead/{lead_id}"
    assert entries[3]["route"] == f"PATCH /__emulator__/records/Lead/{lead_id}"
    assert all(e["object"] == "Lead" for e in entries)
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    assert entries[0]["at"] <= entries[-1]["at"]

    every = admin("get", "write-log")["entries"]
    assert [e["id"] for e in every if e["object"] == "Account"] == [account]
    after = admin("get", f"write-log?object=Lead&after={entries[1]['seq']}")["entries"]
    assert after == entries[2:]


def test_collections_are_logged_per_record_and_reset_empties_the_log(
    sf: Salesforce, admin: Callable[..., Any]
) -> None:
    records = [
        {"attributes": {"type": "Lead"}, "LastName": f"Lead {n}", "Company": "Acme"}
        for n in range(3)
    ]
    created = sf.restful("composite/sobjects", method="POST", json={"records": records})
    ids = [row["id"] for row in created]
    entries = admin("get", "write-log?object=Lead")["entries"]
    assert [e["id"] for e in entries] == ids
    assert {e["route"] for e in entries} == {"POST /services/data/v59.0/composite/sobjects"}

    assert admin("get", "write-log?after=x", status=400)["error"].startswith("after must")
    admin("post", "reset", {})
    assert admin("get", "write-log")["entries"] == []
