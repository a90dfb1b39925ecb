"""Push-back: revenue totals onto the marketing system's records, deltas as events.

What lands where (docs/revenue.md has the full picture):

* **HubSpot as the marketing system**: every buyer's contact gets ``cl_won_revenue_total``,
  ``cl_won_deal_count``, ``cl_last_won_amount``, ``cl_last_won_date`` (the deals they bought,
  full amounts) and ``cl_attributed_revenue`` (the credit of their own touches under
  ``revenue.model``). The contact's primary company (``associatedcompanyid``) gets the same
  over its contacts. A company owned by closedloop, ``(unattributed)`` (upserted by
  ``closedloop_external_id = closedloop:unattributed``), holds in ``cl_attributed_revenue``
  the credit that reached no contact: deals without a known buyer, buyers without touches,
  and people without a HubSpot contact. So Σ contacts' ``cl_attributed_revenue`` +
  ``(unattributed)``'s equals the CRM's won revenue (:func:`marketing_revenue_total`).
* **Salesforce as the marketing system**: Lead/Contact fields ``CL_Won_Revenue_Total__c``
  etc., and on each Campaign (matched by Id or Name to the touch's campaign)
  ``CL_Attributed_Revenue_<Model>__c`` for every provisioned model and
  ``CL_Won_Deal_Count__c``; credit without a matching Campaign goes to the ``(unattributed)``
  Campaign (``closedloop_id__c = closedloop:unattributed``), so the campaigns' total closes.

Every intended value is diffed against the shadow state first: only changed fields are
enqueued, so a repeated push makes no write call. Push keys name the store generation (the
newest revenue version id) and the values, so each distinct total is written once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from closedloop.connectors.contract import Connector, Value
from closedloop.connectors.salesforce.provisioning import load_field_plan
from closedloop.revenue.credit import UNATTRIBUTED
from closedloop.revenue.events import RevenueStore, RevenueVersion
from closedloop.revenue.journeys import Credit
from closedloop.revenue.totals import RevenueTotals, Totals, money_text
from closedloop.sync.model import RecordRef
from closedloop.sync.outbox import OutboxItem
from closedloop.sync.state import SyncState

__all__ = [
    "HUBSPOT_FIELDS",
    "UNATTRIBUTED_ID",
    "PushTarget",
    "marketing_revenue_total",
    "plan_targets",
    "to_outbox",
]

UNATTRIBUTED_ID = "closedloop:unattributed"
HUBSPOT_FIELDS = {
    "total": "cl_won_revenue_total",
    "count": "cl_won_deal_count",
    "last_amount": "cl_last_won_amount",
    "last_date": "cl_last_won_date",
    "attributed": "cl_attributed_revenue",
}
SALESFORCE_FIELDS = {
    "total": "CL_Won_Revenue_Total__c",
    "count": "CL_Won_Deal_Count__c",
    "last_amount": "CL_Last_Won_Amount__c",
    "last_date": "CL_Last_Won_Date__c",
    "attributed": "CL_Attributed_Revenue__c",
}
_HUBSPOT_DATE = "%Y-%m-%dT00:00:00Z"
_SALESFORCE_DATE = "%Y-%m-%d"


@dataclass(frozen=True)
class PushTarget:
    """One marketing record and the values closedloop wants on it."""

    object_type: str
    fields: dict[str, Value]
    record_id: str | None = None
    match: tuple[str, str] | None = None
    person_id: str | None = None


def campaign_field(model: str) -> str:
    """``CL_Attributed_Revenue_<Model>__c`` of a model (``u_shaped`` -> ``U_Shaped``)."""
    return "CL_Attributed_Revenue_" + "_".join(w.capitalize() for w in model.split("_")) + "__c"


def _record_of(state: SyncState, person_id: str, system: str, kinds: Sequence[str]) -> str | None:
    refs = [r for r in state.identity.records_of(person_id) if r.system == system]
    for kind in kinds:
        ids = sorted(r.record_id for r in refs if r.object_type == kind)
        if ids:
            return ids[0]
    return None


def plan_targets(
    system: str,
    connector: Connector,
    state: SyncState,
    store: RevenueStore,
    model: str,
    found: dict[str, str] | None = None,
) -> tuple[list[PushTarget], RevenueTotals]:
    """Every record the push-back maintains on ``system``, with its recomputed values.

    ``found`` remembers, between runs of one process, the id of the ``(unattributed)``
    record once looked up (under :data:`UNATTRIBUTED_ID`), so webhook runs skip the search;
    pass a fresh dict to look it up again.
    """
    versions = store.current(won_only=True)
    involved = {buyer for v in store.all_versions() for buyer in v.buyers}
    credits = store.credits([v.id for v in versions], model)
    totals = RevenueTotals.compute(versions, credits, involved)
    if system == "hubspot":
        return _hubspot_targets(connector, state, totals, {} if found is None else found), totals
    return _salesforce_targets(connector, state, store, versions, totals), totals


def _hubspot_targets(
    connector: Connector, state: SyncState, totals: RevenueTotals, found: dict[str, str]
) -> list[PushTarget]:
    contacts: dict[str, str] = {}
    for person in sorted(totals.people):
        contact = _record_of(state, person, "hubspot", ["contacts"])
        if contact is None:
            totals.move_to_unattributed(person)
        else:
            contacts[person] = contact
    targets = [
        PushTarget(
            "contacts", totals.people[p].fields(HUBSPOT_FIELDS, _HUBSPOT_DATE), c, person_id=p
        )
        for p, c in contacts.items()
    ]
    companies: dict[str, Totals] = {}
    records = connector.read_records("contacts", list(contacts.values()), ["associatedcompanyid"])
    company_of = {r.id: str(r.fields.get("associatedcompanyid") or "") for r in records}
    for person, contact in contacts.items():
        if company_of.get(contact):
            companies.setdefault(company_of[contact], Totals()).absorb(totals.people[person])
    targets += [
        PushTarget("companies", held.fields(HUBSPOT_FIELDS, _HUBSPOT_DATE), company)
        for company, held in sorted(companies.items())
    ]
    bucket = Totals(dict(totals.unattributed_deals.deals), totals.unattributed)
    if UNATTRIBUTED_ID not in found:
        hits = connector.find("companies", "closedloop_external_id", [UNATTRIBUTED_ID], ["name"])
        if hits:
            found[UNATTRIBUTED_ID] = hits[0].id
    fields = {"name": UNATTRIBUTED, **bucket.fields(HUBSPOT_FIELDS, _HUBSPOT_DATE)}
    fields["cl_won_revenue_total"] = money_text(totals.unattributed)
    if UNATTRIBUTED_ID in found:
        targets.append(PushTarget("companies", fields, found[UNATTRIBUTED_ID]))
    else:
        targets.append(
            PushTarget("companies", fields, match=("closedloop_external_id", UNATTRIBUTED_ID))
        )
    return targets


def _salesforce_targets(
    connector: Connector,
    state: SyncState,
    store: RevenueStore,
    versions: Sequence[RevenueVersion],
    totals: RevenueTotals,
) -> list[PushTarget]:
    targets: list[PushTarget] = []
    for person in sorted(totals.people):
        kind_and_id = _record_of(state, person, "salesforce", ["Contact"])
        kind = "Contact"
        if kind_and_id is None:
            kind, kind_and_id = "Lead", _record_of(state, person, "salesforce", ["Lead"])
        if kind_and_id is not None:
            fields = totals.people[person].fields(SALESFORCE_FIELDS, _SALESFORCE_DATE)
            targets.append(PushTarget(kind, fields, kind_and_id, person_id=person))
    provisioned = {spec.name for spec in load_field_plan().on("Campaign")}
    every = {v.id for v in store.all_versions()}
    by_model: dict[str, dict[int, list[Credit]]] = {}
    for name in ("first_touch", "last_touch", "linear", "time_decay", "u_shaped", "w_shaped",
                 "full_path", "custom", "markov"):  # fmt: skip
        if campaign_field(name) in provisioned:
            by_model[name] = store.credits(every, name)
    keys = {c.campaign_key for per in by_model.values() for cs in per.values() for c in cs}
    campaign_ids = _campaign_ids(connector, sorted(keys - {UNATTRIBUTED}))
    current = {v.id: v for v in versions}
    sums: dict[str, dict[str, Value]] = {}
    won: dict[str, set[str]] = {}
    for model, per_version in by_model.items():
        for version_id, credits in per_version.items():
            for credit in credits:
                holder = campaign_ids.get(credit.campaign_key, UNATTRIBUTED_ID)
                row = sums.setdefault(holder, {campaign_field(m): "0.00" for m in by_model})
                if version_id in current:
                    amount = Decimal(str(row[campaign_field(model)])) + credit.amount
                    row[campaign_field(model)] = money_text(amount)
                    won.setdefault(holder, set()).add(current[version_id].deal_id)
    sums.setdefault(UNATTRIBUTED_ID, {campaign_field(m): "0.00" for m in by_model})
    for holder, row in sorted(sums.items()):
        row["CL_Won_Deal_Count__c"] = str(len(won.get(holder, set())))
        if holder == UNATTRIBUTED_ID:
            row["Name"] = UNATTRIBUTED
            targets.append(PushTarget("Campaign", row, match=("closedloop_id__c", holder)))
        else:
            targets.append(PushTarget("Campaign", row, holder))
    return targets


def _campaign_ids(connector: Connector, keys: Sequence[str]) -> dict[str, str]:
    """Campaign key (an Id or a Name) -> Campaign Id, for the campaigns that exist."""
    found: dict[str, str] = {}
    by_id = [k for k in keys if k.startswith("701")]
    for record in connector.find("Campaign", "Id", by_id, ["Name"]) if by_id else []:
        found[record.id] = record.id
    for record in connector.find("Campaign", "Name", list(keys), ["Name"]) if keys else []:
        found.setdefault(str(record.fields.get("Name")), record.id)
    return found


def to_outbox(
    system: str,
    targets: Sequence[PushTarget],
    shadows: Mapping[RecordRef, Mapping[str, object]],
    generation: int,
    run_id: int,
) -> list[OutboxItem]:
    """Outbox items for the targets whose values differ from the shadow (changed fields only)."""
    items: list[OutboxItem] = []
    for target in targets:
        fields = dict(target.fields)
        if target.record_id is not None:
            stored = shadows.get(RecordRef(system, target.object_type, target.record_id), {})
            fields = {k: v for k, v in fields.items() if stored.get(k) != v}
        if not fields:
            continue
        where = target.record_id or json.dumps(target.match)
        body = json.dumps(fields, sort_keys=True)
        digest = hashlib.sha256(f"{where}|{body}".encode()).hexdigest()[:24]
        items.append(
            OutboxItem(
                push_key=f"revenue:{system}:{target.object_type}:{where}:g{generation}:{digest}",
                system=system,
                object_type=target.object_type,
                fields=fields,
                record_id=target.record_id,
                match=target.match,
                person_id=target.person_id,
                run_id=run_id,
            )
        )
    return items


def marketing_revenue_total(connector: Connector, *, model: str = "linear") -> Decimal:
    """The revenue the marketing system shows, read back through its official client.

    HubSpot: Σ ``cl_attributed_revenue`` over every contact plus the ``(unattributed)``
    company's. Salesforce: Σ ``CL_Attributed_Revenue_<model>__c`` over every Campaign.
    Either equals the CRM's won revenue once the push-back has been flushed.
    """
    total = Decimal("0.00")
    if connector.name == "hubspot":
        for page in connector.read_all("contacts", [HUBSPOT_FIELDS["attributed"]]):
            for record in page.records:
                total += Decimal(str(record.fields.get(HUBSPOT_FIELDS["attributed"]) or 0))
        bucket = connector.find(
            "companies", "closedloop_external_id", [UNATTRIBUTED_ID], [HUBSPOT_FIELDS["attributed"]]
        )
        for record in bucket:
            total += Decimal(str(record.fields.get(HUBSPOT_FIELDS["attributed"]) or 0))
        return total
    name = campaign_field(model)
    for page in connector.read_all("Campaign", [name]):
        for record in page.records:
            total += Decimal(str(record.fields.get(name) or 0))
    return total
