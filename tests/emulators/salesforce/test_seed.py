"""Seed data: realistic, related, deterministic per seed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simple_salesforce import Salesforce

from closedloop.emulators.clock import EmulatorClock
from closedloop.emulators.salesforce import create_emulator

SPEC = {
    "leads": 300,
    "accounts": 20,
    "contacts": 40,
    "opportunities": 60,
    "campaigns": 4,
    "seed": 1,
}


def test_seed_creates_related_records(sf: Salesforce, admin: Callable[..., Any]) -> None:
    counts = admin("post", "seed", SPEC)
    assert {
        k: counts[k] for k in ("leads", "accounts", "contacts", "opportunities", "campaigns")
    } == {k: v for k, v in SPEC.items() if k != "seed"}
    assert counts["opportunity_contact_roles"] > 0
    stages = {r["StageName"] for r in sf.query_all("SELECT StageName FROM Opportunity")["records"]}
    assert len(stages) >= 5
    won = sf.query("SELECT Id FROM Opportunity WHERE IsWon = true")["totalSize"]
    closed = sf.query("SELECT Id FROM Opportunity WHERE IsClosed = true")["totalSize"]
    assert 0 < won < closed
    sources = {r["LeadSource"] for r in sf.query_all("SELECT LeadSource FROM Lead")["records"]}
    assert sources <= {"Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"}
    assert sf.query("SELECT COUNT() FROM CampaignMember")["totalSize"] > 0
    primary = sf.query("SELECT OpportunityId FROM OpportunityContactRole WHERE IsPrimary = true")[
        "records"
    ]
    assert len(primary) == len({r["OpportunityId"] for r in primary})


def test_same_seed_same_org(clock: EmulatorClock) -> None:
    clock.freeze()
    snapshots = []
    for _ in range(2):
        emu = create_emulator(seed=3, clock=clock, outbound_background=False)
        emu.seed(SPEC)
        table = emu.org.store.tables["Opportunity"]
        snapshots.append(
            [
                (rid, row["Amount"], row["StageName"], row["CreatedDate"])
                for rid, row in table.items()
            ]
        )
        emu.close()
    assert snapshots[0] == snapshots[1]
    assert len(snapshots[0]) == 60
