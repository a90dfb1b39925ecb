"""Echoes of closedloop's own writes cost no history read; conversions land in one run.

Counted from the emulators' own statistics, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from closedloop.connectors.contract import RowWrite
from closedloop.sync.gather import Gatherer

Loop = Any  # the conftest's Loop: emulators, settings and engine of one scenario

HISTORY_READ = "POST /crm/v3/objects/contacts/batch/read"
SEARCH = "POST /crm/v3/objects/contacts/search"
STAMPS = ["Email", "CL_First_Touch_Source__c", "CL_Lead_Touch_Channel__c", "CL_Touch_Count__c"]


def _routes(run: Loop, system: str) -> dict[str, int]:
    return dict(run.admin(system, "get", "stats")["by_route"])


def _leads(run: Loop) -> list[Any]:
    connector = run.engine.connectors["salesforce"]
    return [r for page in connector.read_all("Lead", STAMPS) for r in page.records]


def test_an_echo_of_closedloops_own_writes_reads_no_history(loop: Callable[..., Loop]) -> None:
    run = loop(contacts=150, seed=21)
    first = run.engine.run(allow_blast=True)  # stamps every HubSpot contact, creates Leads
    assert first.counts.written > 150
    run.reset_stats()
    hubspot = run.engine.connectors["hubspot"]
    hubspot.records_read.reset()

    again = run.engine.run()

    routes = _routes(run, "hubspot")
    assert routes.get(SEARCH, 0) >= 1  # the search found the contacts closedloop wrote ...
    assert hubspot.records_read.counts()[("contacts", "search")] >= 150
    assert routes.get(HISTORY_READ, 0) == 0  # ... and knew them for echoes: no history read
    assert again.counts.changed == 0
    assert run.writes() == {"hubspot": 0, "salesforce": 0}


def test_a_real_change_among_echoes_reads_only_its_own_history(
    loop: Callable[..., Loop],
) -> None:
    run = loop(contacts=120, seed=22)
    run.engine.run(allow_blast=True)
    run.engine.run()  # the echoes of the first run's writes, now known
    hubspot = run.engine.connectors["hubspot"]
    lead = _leads(run)[0]
    contact = hubspot.find("contacts", "email", [str(lead.fields["Email"])], ["email"])[0]
    run.admin("hubspot", "post", "clock", {"advance_seconds": 3600})
    hubspot.write(
        [
            RowWrite(
                "late-visit",
                "contacts",
                {"utm_source": "linkedin", "utm_medium": "paid_social"},
                record_id=contact.id,
            )
        ]
    )
    run.reset_stats()
    hubspot.records_read.reset()

    run.engine.run()

    assert _routes(run, "hubspot").get(HISTORY_READ, 0) == 1
    assert hubspot.records_read.counts()[("contacts", "history")] == 1
    after = next(r for r in _leads(run) if r.id == lead.id).fields
    assert int(after["CL_Touch_Count__c"]) == int(lead.fields["CL_Touch_Count__c"]) + 1


def test_leads_converted_since_the_last_run_are_stamped_in_one_run(
    loop: Callable[..., Loop], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = loop(contacts=60, seed=23)
    run.engine.run(allow_blast=True)
    made = [
        run.admin("salesforce", "post", "convert-lead", {"lead_id": lead.id})
        for lead in _leads(run)[:5]
    ]
    hubspot = run.engine.connectors["hubspot"]
    contacts = [r for page in hubspot.read_all("contacts", ["email"]) for r in page.records]
    run.admin("hubspot", "post", "clock", {"advance_seconds": 600})
    visit = {"utm_source": "newsletter", "utm_medium": "email"}  # everyone changed for real
    hubspot.write([RowWrite(f"v{c.id}", "contacts", visit, record_id=c.id) for c in contacts])
    # Small chunks: HubSpot's people are planned, and complete their CRM side by known ids,
    # before the converted Leads themselves are read.
    monkeypatch.setattr(Gatherer, "chunk_people", 10)

    run.engine.run(allow_blast=True)

    salesforce = run.engine.connectors["salesforce"]
    contacts = salesforce.read_records(
        "Contact", [str(m["contactId"]) for m in made], ["CL_First_Touch_Source__c"]
    )
    opportunities = salesforce.read_records(
        "Opportunity", [str(m["opportunityId"]) for m in made], ["CL_First_Touch_Source__c"]
    )
    assert len(contacts) == len(opportunities) == 5
    assert all(r.fields["CL_First_Touch_Source__c"] for r in contacts + opportunities)
    run.reset_stats()
    run.engine.run()
    assert run.writes() == {"hubspot": 0, "salesforce": 0}  # nothing was left for later
