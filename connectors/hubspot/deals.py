"""Deals and their buyers: pipeline stage metadata, closed deals, deal <-> contact links.

Won and lost are read from stage metadata (``isClosed`` plus ``probability`` 1.0 = won, 0.0 =
lost) or from the calculated ``hs_is_closed_won`` property, never from stage-id strings:
portals relabel and reuse stages. Associations come from the v4 batch read, 1,000 ids a call.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest

from closedloop.connectors.classification import Action
from closedloop.connectors.contract import MarketingEvent, RowResult, Watermark, WonDeal
from closedloop.connectors.hubspot.api import ASSOCIATIONS, STANDARD, HubSpotApi
from closedloop.connectors.hubspot.reads import HubSpotReader
from closedloop.runtime.errors import SkippableSyncError

ASSOCIATION_BATCH = 1000
EVENT_BATCH = 500
DEAL_FIELDS = (
    "amount",
    "amount_in_home_currency",
    "deal_currency_code",
    "dealstage",
    "pipeline",
    "closedate",
    "hs_is_closed_won",
    "hs_is_closed",
)


@dataclass(frozen=True)
class StageMeta:
    """What a stage means, from its metadata."""

    pipeline: str
    stage: str
    label: str
    is_closed: bool
    is_won: bool


class HubSpotDeals:
    """Reads deal stages, closed deals and associations for one portal."""

    def __init__(self, api: HubSpotApi, reader: HubSpotReader) -> None:
        self._api = api
        self._reader = reader
        self._stages: dict[tuple[str, str], StageMeta] | None = None

    def stages(self) -> dict[tuple[str, str], StageMeta]:
        """Every deal stage by (pipeline id, stage id), read once and cached."""
        if self._stages is None:
            api = self._api.api("crm.pipelines.pipelines_api")
            data, _ = self._api.call(STANDARD, api.get_all_with_http_info, "deals")
            stages = {}
            for pipeline in data.results or []:
                for stage in pipeline.stages or []:
                    meta = stage.metadata or {}
                    closed = str(meta.get("isClosed", "false")).lower() == "true"
                    probability = float(meta.get("probability", "0") or 0)
                    stages[(pipeline.id, stage.id)] = StageMeta(
                        pipeline.id, stage.id, stage.label, closed, closed and probability >= 1.0
                    )
            self._stages = stages
        return self._stages

    def closed_since(self, since: Watermark) -> Iterator[WonDeal]:
        """Deals changed since ``since`` that are closed (won or lost), with their buyers."""
        for page in self._reader.changes("deals", since, DEAL_FIELDS):
            deals = [
                replace(self.to_won_deal(r.id, r.fields), modified_at=r.modified_at)
                for r in page.records
            ]
            closed = [d for d in deals if d.is_closed]
            buyers = self.related("deals", [d.deal_id for d in closed], "contacts")
            for deal in closed:
                yield WonDeal(**{**deal.__dict__, "buyer_ids": buyers.get(deal.deal_id, [])})

    def by_ids(self, ids: Sequence[str]) -> list[WonDeal]:
        """The deals ``ids`` as they are now (open ones too); a missing id comes back deleted."""
        wanted = list(dict.fromkeys(ids))
        records = {r.id: r for r in self._reader.by_ids("deals", wanted, DEAL_FIELDS)}
        deals = [self.to_won_deal(i, records[i].fields) for i in wanted if i in records]
        buyers = self.related("deals", [d.deal_id for d in deals if d.is_closed], "contacts")
        found = {d.deal_id: replace(d, buyer_ids=buyers.get(d.deal_id, [])) for d in deals}
        gone = WonDeal(
            deal_id="",
            amount=None,
            currency=None,
            home_amount=None,
            is_won=False,
            is_closed=False,
            close_date=None,
            is_deleted=True,
        )
        return [found.get(i) or replace(gone, deal_id=i) for i in wanted]

    def to_won_deal(self, deal_id: str, fields: dict[str, Any]) -> WonDeal:
        """Interpret a deal's properties with the stage metadata."""
        meta = self.stages().get((str(fields.get("pipeline")), str(fields.get("dealstage"))))
        won_flag = fields.get("hs_is_closed_won")
        is_won = (
            str(won_flag).lower() == "true" if won_flag is not None else bool(meta and meta.is_won)
        )
        is_closed = is_won or bool(meta and meta.is_closed)
        return WonDeal(
            deal_id=deal_id,
            amount=_number(fields.get("amount")),
            currency=fields.get("deal_currency_code") or None,
            home_amount=_number(fields.get("amount_in_home_currency")),
            is_won=is_won,
            is_closed=is_closed,
            close_date=_datetime(fields.get("closedate")),
            rate_source="hubspot:deal" if fields.get("amount_in_home_currency") else None,
        )

    def related(self, from_type: str, ids: Sequence[str], to_type: str) -> dict[str, list[str]]:
        """Associated ``to_type`` ids of each id (v4 batch read, following per-input paging)."""
        api = self._api.api("crm.associations.v4.batch_api")
        found: dict[str, list[str]] = {}
        pending = [{"id": i} for i in dict.fromkeys(ids)]
        while pending:
            chunk, pending = pending[:ASSOCIATION_BATCH], pending[ASSOCIATION_BATCH:]
            body = BatchInputPublicFetchAssociationsBatchRequest(inputs=chunk)
            data, _ = self._api.call(
                ASSOCIATIONS, api.get_page_with_http_info, from_type, to_type, body
            )
            self._reader.tally.add(f"{from_type}->{to_type}", "associations", len(chunk))
            for result in data.results or []:
                origin = str(result._from.id)
                found.setdefault(origin, []).extend(str(t.to_object_id) for t in result.to or [])
                after = result.paging.next.after if result.paging and result.paging.next else None
                if after:
                    pending.append({"id": origin, "after": after})
        return found


def send_events(api: HubSpotApi, events: Sequence[MarketingEvent]) -> list[RowResult]:
    """Send behavioural events in batches of 500, idempotently.

    Each event carries a uuid derived from its push key, so HubSpot records a repeat once.
    """
    batch_api = api.api("events.send.batch_api")
    results: list[RowResult] = []
    for start in range(0, len(events), EVENT_BATCH):
        chunk = events[start : start + EVENT_BATCH]
        inputs = [
            {
                "eventName": e.name,
                "occurredAt": e.occurred_at.isoformat().replace("+00:00", "Z"),
                "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, e.push_key)),
                **({"email": e.email} if e.email else {}),
                **({"objectId": e.object_id} if e.object_id else {}),
                "properties": {k: "" if v is None else str(v) for k, v in e.properties.items()},
            }
            for e in chunk
        ]
        try:
            api.call(STANDARD, batch_api.send_with_http_info, {"inputs": inputs})
        except SkippableSyncError as exc:
            results += [
                RowResult(e.push_key, False, action=Action.SKIP_ROW, reason=str(exc)) for e in chunk
            ]
            continue
        results += [RowResult(e.push_key, True) for e in chunk]
    return results


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _datetime(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value)
    if text.isdigit():
        from closedloop.connectors.hubspot.reads import from_ms  # noqa: PLC0415

        return from_ms(int(text))
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
