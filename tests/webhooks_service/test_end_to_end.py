"""Emulator webhooks reach the listener, and the change shows in the other system."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from webhook_support import Listener, ListenerFactory

from closedloop.connectors.contract import RowWrite
from closedloop.store.schema import field_decisions

Systems = Any  # the conftest's Systems
OUTBOUND = "/webhooks/salesforce/outbound-message"


def _leads(run: Systems) -> dict[str, Any]:
    connector = run.engine.connectors["salesforce"]
    return {
        r.id: r for page in connector.read_all("Lead", ["Email", "Phone"]) for r in page.records
    }


def _connect(run: Systems, listener: ListenerFactory, **options: Any) -> Listener:
    hook = listener(
        base=run.settings, sync_engine=run.engine, organization_id=run.org_id, **options
    )
    run.admin(
        "hubspot",
        "post",
        "webhooks",
        {
            "targetUrl": hook.url + "/webhooks/hubspot",
            "subscriptions": [{"eventType": "contact.propertyChange", "propertyName": "phone"}],
        },
    )
    return hook


def _pump(run: Systems, hook: Listener, rounds: int = 20) -> int:
    """Deliver every queued webhook and outbound message and process the inbox until quiet."""
    processed = 0
    for _ in range(rounds):
        run.admin("hubspot", "post", "webhooks/flush", {"timeout": 60})
        sent = run.admin("salesforce", "post", "outbound-messages/flush", {"all_pending": True})
        result = hook.worker.process_once(limit=500)
        processed += result.done
        assert result.dead == 0
        if result.claimed == 0 and not sent["sent"]:
            return processed
    raise AssertionError("the inbox never became quiet")


def _last_decision(run: Systems) -> int:
    with run.store.connect() as conn:
        return int(
            conn.execute(select(func.coalesce(func.max(field_decisions.c.id), 0))).scalar_one()
        )


def test_a_hubspot_property_change_reaches_the_salesforce_lead(
    systems: Callable[..., Systems], listener: ListenerFactory
) -> None:
    run = systems(contacts=20, seed=3)
    run.engine.run(allow_blast=True)
    hook = _connect(run, listener)
    lead = next(iter(_leads(run).values()))
    hubspot = run.engine.connectors["hubspot"]
    (contact,) = hubspot.find("contacts", "email", [str(lead.fields["Email"])], ["phone"])
    hubspot.write([RowWrite("edit", "contacts", {"phone": "+1 555 0199"}, record_id=contact.id)])
    run.admin("hubspot", "post", "webhooks/flush", {"timeout": 60})
    deliveries = run.admin("hubspot", "get", "webhooks/deliveries")
    assert deliveries
    rows = hook.rows()
    assert [(r.system, r.object_type, r.record_id) for r in rows] == [
        ("hubspot", "contacts", contact.id)
    ]
    assert hook.worker.process_once().done == 1
    assert _leads(run)[lead.id].fields["Phone"] == "+1 555 0199"


def test_an_opportunity_stage_change_is_acknowledged_and_handed_to_the_revenue_loop(
    systems: Callable[..., Systems], listener: ListenerFactory
) -> None:
    run = systems(contacts=5, seed=4)
    hook = _connect(run, listener, record_deals=True)
    seeded = {"accounts": 1, "contacts": 1, "leads": 0, "opportunities": 1, "campaigns": 0}
    run.admin("salesforce", "post", "seed", {**seeded, "seed": 4})
    run.admin(
        "salesforce",
        "post",
        "outbound-messages",
        {
            "object": "Opportunity",
            "condition": "StageName changed",
            "fields": ["StageName", "Amount"],
            "endpoint": hook.url + OUTBOUND,
        },
    )
    salesforce = run.engine.connectors["salesforce"]
    opportunity = next(
        r for page in salesforce.read_all("Opportunity", ["StageName"]) for r in page.records
    )
    stage = (
        "Negotiation/Review"
        if opportunity.fields["StageName"] != "Negotiation/Review"
        else "Closed Won"
    )
    salesforce.write(
        [RowWrite("stage", "Opportunity", {"StageName": stage}, record_id=opportunity.id)]
    )
    flushed = run.admin("salesforce", "post", "outbound-messages/flush", {"all_pending": True})
    assert flushed["sent"] == 1
    assert flushed["acknowledged"] == 1
    (row,) = hook.rows()
    assert row.payload["fields"]["StageName"] == stage
    assert hook.worker.process_once().done == 1
    assert hook.calls == [("salesforce", "Opportunity", [opportunity.id])]


def test_two_way_edits_never_ping_pong_with_webhooks_feeding_echoes_back(
    systems: Callable[..., Systems], listener: ListenerFactory
) -> None:
    run = systems(contacts=100, seed=9)
    run.engine.run(allow_blast=True)
    hook = _connect(run, listener)
    run.admin(
        "salesforce",
        "post",
        "outbound-messages",
        {
            "object": "Lead",
            "condition": "Phone changed",
            "fields": ["Phone"],
            "endpoint": hook.url + OUTBOUND,
        },
    )
    by_id = _leads(run)
    hubspot, salesforce = run.engine.connectors["hubspot"], run.engine.connectors["salesforce"]
    marketing_side, crm_side = list(by_id.values())[:50], list(by_id.values())[50:]
    contacts = hubspot.find(
        "contacts", "email", [str(lead.fields["Email"]) for lead in marketing_side], ["phone"]
    )
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
    before = _last_decision(run)
    _pump(run, hook)
    phones = {i: lead.fields["Phone"] for i, lead in _leads(run).items()}
    assert all(phones[lead.id].startswith("+1 555") for lead in marketing_side)
    crm_emails = [str(lead.fields["Email"]) for lead in crm_side]
    copied = hubspot.find("contacts", "email", crm_emails, ["phone"])
    assert sorted(str(c.fields["phone"]) for c in copied) == sorted(
        f"+44 20 7946 0{i:03d}" for i in range(50)
    )
    with run.engine.state.outbox._engine.connect() as conn:
        written = conn.execute(
            select(field_decisions.c.record_id, field_decisions.c.field, func.count())
            .where(field_decisions.c.outcome == "written", field_decisions.c.id > before)
            .where(field_decisions.c.field.in_(["phone", "Phone"]))
            .group_by(field_decisions.c.record_id, field_decisions.c.field)
        ).all()
    assert len(written) == 100  # each edit copied once to the other side ...
    assert {n for _, _, n in written} == {1}  # ... and never written back
    run.reset_stats()
    run.admin("hubspot", "post", "webhooks/flush", {"timeout": 60})
    _pump(run, hook)
    assert run.write_calls() == {"hubspot": 0, "salesforce": 0}
