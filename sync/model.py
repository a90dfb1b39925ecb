"""The canonical model every system is translated to and from.

A **person** is one human, whatever records represent them (a HubSpot contact, a Salesforce
lead and later the contact it converts into, anonymous visitor ids). A **touchpoint** (see
:mod:`closedloop.sync.touchpoints`) is one marketing interaction. **Stamps** are what
closedloop derives from a person's touches and writes onto CRM records: the first touch
(written once, never overwritten), the last touch, the lead-creation touch, the touch count and
the days from first touch to conversion. A **deal** is a HubSpot deal or Salesforce opportunity.

Canonical field names are plain strings such as ``first_touch_source``; the touch fields of
each touch kind are ``<kind>_<attribute>`` for the kinds and attributes listed here, so field
mappings (``mappings/data/field_mappings.yaml``) and the stamps speak the same names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

from closedloop.sync.touchpoints import Touchpoint, touch_key

SystemName = Literal["hubspot", "salesforce"]
Role = Literal["marketing", "crm"]
TouchKind = Literal["first_touch", "last_touch", "lead_touch"]
TOUCH_KINDS: tuple[TouchKind, ...] = get_args(TouchKind)
TOUCH_ATTRIBUTES = (
    "source",
    "medium",
    "campaign",
    "term",
    "content",
    "channel",
    "click_id",
    "landing_page",
    "referrer",
    "at",
)
STAMP_FIELDS = (
    *(f"{kind}_{attr}" for kind in TOUCH_KINDS for attr in TOUCH_ATTRIBUTES),
    "touch_count",
    "days_to_convert",
)
PERSON_FIELDS = ("email", "first_name", "last_name", "company", "phone", "lifecycle_stage")

CanonicalValue = str | int | float | bool | datetime | None


@dataclass(frozen=True)
class RecordRef:
    """One record in one system: ``("salesforce", "Lead", "00Q...")``."""

    system: str
    object_type: str
    record_id: str

    def __str__(self) -> str:
        return f"{self.system}:{self.object_type}:{self.record_id}"


@dataclass
class Person:
    """One human and every record and identity that stands for them."""

    person_id: str
    email: str | None = None
    records: list[RecordRef] = field(default_factory=list)
    visitor_ids: list[str] = field(default_factory=list)
    merged_ids: list[str] = field(default_factory=list)
    became_lead_at: datetime | None = None
    converted_at: datetime | None = None


def touch_values(kind: TouchKind, touch: Touchpoint | None) -> dict[str, CanonicalValue]:
    """The ``<kind>_<attribute>`` canonical fields of one touch (all None without a touch)."""
    if touch is None:
        return {f"{kind}_{attr}": None for attr in TOUCH_ATTRIBUTES}
    click_id = next(iter(sorted(touch.click_ids.items())), (None, None))[1]
    values: dict[str, CanonicalValue] = {
        "source": touch.utm_source,
        "medium": touch.utm_medium,
        "campaign": touch.utm_campaign,
        "term": touch.utm_term,
        "content": touch.utm_content,
        "channel": touch.channel,
        "click_id": click_id,
        "landing_page": touch.landing_page,
        "referrer": touch.referrer,
        "at": touch.occurred_at,
    }
    return {f"{kind}_{attr}": value for attr, value in values.items()}


@dataclass(frozen=True)
class Stamps:
    """What a person's touches say, ready to be written as canonical fields."""

    first_touch: Touchpoint | None
    last_touch: Touchpoint | None
    lead_touch: Touchpoint | None
    touch_count: int
    days_to_convert: int | None

    def values(self) -> dict[str, CanonicalValue]:
        """Every stamp as a canonical field."""
        out: dict[str, CanonicalValue] = {}
        out.update(touch_values("first_touch", self.first_touch))
        out.update(touch_values("last_touch", self.last_touch))
        out.update(touch_values("lead_touch", self.lead_touch))
        out["touch_count"] = self.touch_count
        out["days_to_convert"] = self.days_to_convert
        return out


def compute_stamps(
    touches: list[Touchpoint],
    *,
    became_lead_at: datetime | None = None,
    converted_at: datetime | None = None,
) -> Stamps:
    """Derive a person's stamps from their touches.

    Touches are ordered by (time, dedupe key) so ties are deterministic. The lead-creation
    touch is the last touch at or before the moment the person became a lead (the first touch
    when that moment is unknown). Days to convert count from the first touch to conversion.
    """
    ordered = sorted(touches, key=lambda t: (t.occurred_at, touch_key(t)))
    first = ordered[0] if ordered else None
    last = ordered[-1] if ordered else None
    lead = first
    if became_lead_at is not None and ordered:
        before = [t for t in ordered if t.occurred_at <= became_lead_at]
        lead = before[-1] if before else first
    days = None
    if first is not None and converted_at is not None:
        days = max((converted_at - first.occurred_at).days, 0)
    return Stamps(first, last, lead, len(ordered), days)
