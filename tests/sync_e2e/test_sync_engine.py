"""End to end on the emulators, through the official clients, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from closedloop.connectors.contract import RowWrite
from closedloop.sync.engine import BlastRadiusError
from closedloop.sync.model import RecordRef, compute_stamps

Loop = Any  # the conftest's Loop: emulators, settings and engine of one scenario

LEAD_FIELDS = [
    "Email",
    "CL_First_Touch_Source__c",
    "CL_First_Touch_Channel__c",
    "CL_Last_Touch_Source__c",
    "CL_Last_Touch_Channel__c",
    "CL_Lead_Touch_Channel__c",
    "CL_Touch_Count__c",
    "LeadSource",
]


def leads(loop: Loop) -> list[Any]:
    connector = loop.engine.connectors["salesforce"]
    return [r for page in connector.read_all("Lead", LEAD_FIELDS) for r in page.records]


def test_contacts_become_leads_whose_stamps_match_the_ledger(loop: Callable[..., Loop]) -> None:
    run = loop(contacts=2000)
    report = run.engine.run(allow_blast=True)
    assert report.counts.failed == 0
    created = leads(run)
    assert len(created) == 2000
    state = run.engine.state
    for lead in created[::97]:
        person = state.identity.person_of(RecordRef("salesforce", "Lead", lead.id))
        assert person is not None
        stamps = compute_stamps(state.ledger.touches_of(person))
        assert stamps.first_touch is not None
        assert lead.fields["CL_First_Touch_Channel__c"] == stamps.first_touch.channel
        assert lead.fields["CL_Last_Touch_Channel__c"] == (
            stamps.last_touch.channel if stamps.last_touch else None
        )
        assert lead.fields["CL_First_Touch_Source__c"] == stamps.first_touch.utm_source
        assert int(lead.fields["CL_Touch_Count__c"]) == stamps.touch_count
        assert lead.fields["LeadSource"]

    run.reset_stats()
    again = run.engine.run()
    assert again.counts.changed == 0
    assert run.writes() == {"hubspot": 0, "salesforce": 0}


def test_a_later_touch_moves_last_touch_never_first(loop: Callable[..., Loop]) -> None:
    run = loop(contacts=50, seed=2)
    run.engine.run(allow_blast=True)
    lead = leads(run)[0]
    before = dict(lead.fields)
    hubspot = run.engine.connectors["hubspot"]
    contact = hubspot.find("contacts", "email", [str(lead.fields["Email"])], ["email"])[0]
    run.admin("hubspot", "post", "clock", {"advance_seconds": 3600})
    hubspot.write(
        [
            RowWrite(
                "late",
                "contacts",
                {
                    "utm_source": "linkedin",
                    "utm_medium": "paid_social",
                    "utm_campaign": "late_push",
                },
                record_id=contact.id,
            )
        ]
    )
    run.engine.run()
    after = next(r for r in leads(run) if r.id == lead.id).fields
    assert after["CL_Last_Touch_Source__c"] == "linkedin"
    assert after["CL_Last_Touch_Channel__c"] == "Paid Social"
    assert after["CL_First_Touch_Source__c"] == before["CL_First_Touch_Source__c"]
    assert after["CL_First_Touch_Channel__c"] == before["CL_First_Touch_Channel__c"]
    assert int(after["CL_Touch_Count__c"]) == int(before["CL_Touch_Count__c"]) + 1


def test_dry_run_plan_is_exactly_what_is_then_written(loop: Callable[..., Loop]) -> None:
    run = loop(contacts=120, seed=3)
    plan = run.engine.run(dry_run=True, allow_blast=True).as_json()
    assert run.writes() == {"hubspot": 0, "salesforce": 0}
    assert leads(run) == []
    planned = {
        (r["system"], r["object"], r["record_id"], field): change["to"]
        for r in plan["records"]
        for field, change in r["fields"].items()
        if change["outcome"] == "write"
    }
    report = run.engine.run(allow_blast=True)
    sent = {
        (r["system"], r["object"], r["record_id"], field): change["to"]
        for r in report.as_json()["records"]
        for field, change in r["fields"].items()
        if change["outcome"] == "write"
    }
    assert planned == sent
    assert report.counts.written == report.counts.changed


def test_blast_radius_refuses_a_broad_change_and_writes_nothing(
    loop: Callable[..., Loop],
) -> None:
    run = loop(contacts=100, seed=4)
    run.engine.run(allow_blast=True)
    hubspot = run.engine.connectors["hubspot"]
    contacts = [r for p in hubspot.read_all("contacts", ["email"]) for r in p.records]
    run.admin("hubspot", "post", "clock", {"advance_seconds": 7200})
    hubspot.write(
        [
            RowWrite(
                f"b{i}",
                "contacts",
                {"utm_source": "tiktok", "utm_medium": "paid_social"},
                record_id=c.id,
            )
            for i, c in enumerate(contacts[:30])
        ]
    )
    run.reset_stats()
    with pytest.raises(BlastRadiusError, match=r"30%|\d+%"):
        run.engine.run(dry_run=True)
    with pytest.raises(BlastRadiusError):
        run.engine.run()
    assert run.writes() == {"hubspot": 0, "salesforce": 0}
    assert run.engine.state.staging.count() == 0  # the staged plans were dropped
    assert run.engine.state.outbox.pending_count() == 0


def test_a_targeted_run_reads_only_the_named_records(loop: Callable[..., Loop]) -> None:
    run = loop(contacts=40, seed=5)
    run.engine.run(allow_blast=True)
    hubspot = run.engine.connectors["hubspot"]
    contacts = [r for page in hubspot.read_all("contacts", ["email"]) for r in page.records]
    first, second = contacts[0], contacts[1]
    run.admin("hubspot", "post", "clock", {"advance_seconds": 60})
    for contact in (first, second):
        hubspot.write(
            [RowWrite(f"t-{contact.id}", "contacts", {"utm_source": "bing"}, record_id=contact.id)]
        )
    before = run.engine.state.watermarks.get("hubspot", "contacts")

    report = run.engine.run(targets={("hubspot", "contacts"): [first.id]})

    assert report.counts.read == 1
    assert run.engine.state.watermarks.get("hubspot", "contacts") == before
    by_email = {r.fields["Email"]: r.fields for r in leads(run)}
    assert by_email[first.fields["email"]]["CL_Last_Touch_Source__c"] == "bing"
    assert by_email[second.fields["email"]]["CL_Last_Touch_Source__c"] != "bing"
    assert "targeted" in run.engine.state.runs.last_runs()


def test_a_salesforce_campaign_response_becomes_the_last_touch(
    loop: Callable[..., Loop],
) -> None:
    run = loop(contacts=30, seed=8)
    run.engine.run(allow_blast=True)
    lead = leads(run)[0]
    before = dict(lead.fields)
    campaign = run.admin(
        "salesforce", "post", "records/Campaign", {"Name": "Spring Webinar", "Type": "Webinar"}
    )
    run.admin("salesforce", "post", "clock", {"advance_seconds": 600})
    run.admin(
        "salesforce",
        "post",
        "records/CampaignMember",
        {"CampaignId": campaign["id"], "LeadId": lead.id, "Status": "Responded"},
    )

    run.engine.run()  # the new membership alone brings the person into the incremental run

    after = next(r for r in leads(run) if r.id == lead.id).fields
    assert after["CL_Last_Touch_Source__c"] == "webinar"
    assert after["CL_First_Touch_Source__c"] == before["CL_First_Touch_Source__c"]
    assert int(after["CL_Touch_Count__c"]) == int(before["CL_Touch_Count__c"]) + 1
    person = run.engine.state.identity.person_of(RecordRef("salesforce", "Lead", lead.id))
    origins = [t.origin for t in run.engine.state.ledger.touches_of(person)]
    assert origins.count("salesforce_campaign") == 1
    assert "salesforce_lead_source" not in origins  # HubSpot touches exist: no fallback
    run.reset_stats()
    run.engine.run(full=True)
    assert run.writes() == {"hubspot": 0, "salesforce": 0}
