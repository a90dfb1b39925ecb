"""Ownership, conversion, two-way edits and drift, end to end on both emulators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from closedloop.connectors.contract import RowWrite
from closedloop.sync.model import RecordRef

Loop = Any  # the conftest's Loop: emulators, settings and engine of one scenario

STAMPS = [
    "Email",
    "Phone",
    "Title",
    "Company",
    "CL_First_Touch_Source__c",
    "CL_Last_Touch_Source__c",
    "CL_Touch_Count__c",
]


def leads(run: Loop) -> dict[str, Any]:
    connector = run.engine.connectors["salesforce"]
    return {r.id: r for page in connector.read_all("Lead", STAMPS) for r in page.records}


def contact_of(run: Loop, email: str) -> Any:
    return run.engine.connectors["hubspot"].find(
        "contacts", "email", [email], ["phone", "jobtitle", "company"]
    )[0]


def test_a_rep_edit_of_a_crm_owned_field_reaches_hubspot(loop: Callable[..., Loop]) -> None:
    run = loop(contacts=30, seed=6)
    run.engine.run(allow_blast=True)
    lead = next(iter(leads(run).values()))
    run.engine.connectors["salesforce"].write(
        [RowWrite("rep", "Lead", {"Title": "VP Revenue"}, record_id=lead.id)]
    )
    run.engine.run()
    assert contact_of(run, lead.fields["Email"]).fields["jobtitle"] == "VP Revenue"


def test_marketing_owned_edits_are_refused_or_restored_and_explained(
    loop: Callable[..., Loop],
) -> None:
    run = loop(contacts=30, seed=7)
    run.engine.run(allow_blast=True)
    lead = next(r for r in leads(run).values() if r.fields.get("Company"))
    original_email, original_company = lead.fields["Email"], lead.fields["Company"]
    run.engine.connectors["salesforce"].write(
        [
            RowWrite(
                "rep",
                "Lead",
                {"Company": "Renamed By Rep", "Email": "typo@example.com"},
                record_id=lead.id,
            )
        ]
    )
    run.engine.run()
    after = leads(run)[lead.id].fields
    assert after["Email"] == original_email  # restore: true for the match key
    assert after["Company"] == "Renamed By Rep"  # restore: false: refused, the edit stays
    assert original_company != after["Company"]
    state = run.engine.state
    person = state.identity.person_of(RecordRef("salesforce", "Lead", lead.id))
    assert person is not None
    history = state.provenance.history(person)
    refused = [d for d in history if d.field == "Company" and d.outcome == "refused"]
    assert refused
    assert refused[-1].reason
    restored = [d for d in history if d.field == "Email" and d.outcome == "written"]
    assert restored


def test_conversion_carries_the_stamps_to_contact_and_opportunity(
    loop: Callable[..., Loop],
) -> None:
    run = loop(contacts=20, seed=8)
    run.engine.run(allow_blast=True)
    lead = next(iter(leads(run).values()))
    converted = run.admin("salesforce", "post", "convert-lead", {"lead_id": lead.id})
    run.engine.run()
    salesforce = run.engine.connectors["salesforce"]
    contact = salesforce.read_records(
        "Contact",
        [converted["contactId"]],
        ["CL_First_Touch_Source__c", "CL_Last_Touch_Source__c"],
    )[0].fields
    opportunity = salesforce.read_records(
        "Opportunity",
        [converted["opportunityId"]],
        ["CL_First_Touch_Source__c", "CL_Last_Touch_Source__c"],
    )[0].fields
    for field in ("CL_First_Touch_Source__c", "CL_Last_Touch_Source__c"):
        assert contact[field] == lead.fields[field]
        assert opportunity[field] == lead.fields[field]
    run.reset_stats()
    run.engine.run()
    assert run.writes() == {"hubspot": 0, "salesforce": 0}


def test_two_way_edits_never_ping_pong(loop: Callable[..., Loop]) -> None:
    run = loop(contacts=100, seed=9)
    run.engine.run(allow_blast=True)
    by_id = leads(run)
    hubspot, salesforce = run.engine.connectors["hubspot"], run.engine.connectors["salesforce"]
    marketing_side = list(by_id.values())[:50]
    crm_side = list(by_id.values())[50:]
    emails = [str(lead.fields["Email"]) for lead in marketing_side]
    contacts = hubspot.find("contacts", "email", emails, ["phone"])
    run.admin("hubspot", "post", "clock", {"advance_seconds": 600})
    hubspot.write(
        [
            RowWrite(f"hp{i}", "contacts", {"phone": f"+1 555 010{i:02d}"}, record_id=c.id)
            for i, c in enumerate(contacts)
        ]
    )
    salesforce.write(
        [
            RowWrite(f"sp{i}", "Lead", {"Phone": f"+44 20 7946 0{i:03d}"}, record_id=lead.id)
            for i, lead in enumerate(crm_side)
        ]
    )
    run.reset_stats()
    first = run.engine.run(allow_blast=True)  # half the records changed on purpose
    assert first.counts.changed == 100  # each edit copied once to the other side
    phones = {i: lead.fields["Phone"] for i, lead in leads(run).items()}
    assert all(phones[lead.id].startswith("+1 555") for lead in marketing_side)
    run.reset_stats()
    second = run.engine.run()
    assert second.counts.changed == 0
    assert run.writes() == {"hubspot": 0, "salesforce": 0}


def test_full_reconciliation_repairs_drift(loop: Callable[..., Loop]) -> None:
    run = loop(contacts=150, seed=10)
    run.engine.run(allow_blast=True)
    drifted = list(leads(run))[:100]
    for record_id in drifted:
        run.admin(
            "salesforce",
            "patch",
            f"records/Lead/{record_id}",
            {"CL_Last_Touch_Source__c": "drifted"},
        )
    report = run.engine.run(full=True, allow_blast=True)
    assert report.counts.changed == 100
    assert report.counts.written == 100
    assert all(r.fields["CL_Last_Touch_Source__c"] != "drifted" for r in leads(run).values())
    assert run.engine.run(full=True).counts.changed == 0


def test_a_hubspot_merge_keeps_every_touch_with_the_surviving_person(
    loop: Callable[..., Loop],
) -> None:
    run = loop(contacts=10, seed=14)
    run.engine.run(allow_blast=True)
    hubspot = run.engine.connectors["hubspot"]
    contacts = [r for p in hubspot.read_all("contacts", ["email"]) for r in p.records]
    survivor, absorbed = contacts[0], contacts[1]
    state = run.engine.state
    ref_of = lambda c: RecordRef("hubspot", "contacts", c.id)  # noqa: E731
    touches = {
        c.id: len(state.ledger.touches_of(state.identity.person_of(ref_of(c)) or ""))
        for c in (survivor, absorbed)
    }
    api = hubspot.api.api("crm.contacts.basic_api")
    hubspot.api.call(
        ("burst",),
        api.merge_with_http_info,
        {"primaryObjectId": survivor.id, "objectIdToMerge": absorbed.id},
    )
    run.engine.run(allow_blast=True)
    person = state.identity.person_of(ref_of(survivor))
    assert person is not None
    assert state.identity.person_of(ref_of(absorbed)) == person
    assert len(state.ledger.touches_of(person)) >= touches[survivor.id]
    assert len(state.ledger.touches_of(person)) >= touches[absorbed.id]
