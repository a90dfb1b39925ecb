"""The one small contract every connector implements.

The sync engine and the revenue loop talk to HubSpot, Salesforce or a third-party system only
through :class:`Connector`. Records cross it as :class:`Record` (vendor field names, string or
JSON-scalar values); writes as :class:`RowWrite` with an idempotency key, and every written row
comes back as a :class:`RowResult` (a failed row never fails its batch-mates and never
disappears: it carries its reason).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from closedloop.config.schema import Settings
from closedloop.connectors.budget import BudgetSnapshot
from closedloop.connectors.classification import Action
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock

Value = str | int | float | bool | None


@dataclass(frozen=True)
class FieldChange:
    """One entry of a field's history: the value, when it was set and by whom."""

    value: Value
    at: datetime
    source_type: str | None = None
    source_id: str | None = None


@dataclass(frozen=True)
class Record:
    """One vendor record as read: its id, its fields and when it last changed.

    ``history`` holds, for the fields asked for with history (HubSpot property history;
    systems without per-field history leave it empty), every change, newest first.
    """

    object_type: str
    id: str
    fields: dict[str, Value]
    modified_at: datetime
    archived: bool = False
    history: dict[str, list[FieldChange]] = field(default_factory=dict)


@dataclass(frozen=True, order=True)
class Watermark:
    """How far a system has been read: a modification time plus the last id at that time."""

    modified_at: datetime | None = None
    last_id: str = ""


@dataclass(frozen=True)
class Page:
    """A streamed page of changes and the watermark reached once it is processed."""

    records: list[Record]
    watermark: Watermark


@dataclass(frozen=True)
class RowWrite:
    """One intended write.

    Attributes:
        push_key: the idempotency key of this write (unique per intended change).
        object_type: the vendor object (``contacts``, ``Lead``...).
        fields: vendor field name -> value; only changed fields.
        record_id: the vendor id when the record is known (update).
        match: (unique field, value) to upsert by when the id is not known.
    """

    push_key: str
    object_type: str
    fields: dict[str, Value]
    record_id: str | None = None
    match: tuple[str, str] | None = None


@dataclass(frozen=True)
class RowResult:
    """What happened to one :class:`RowWrite`."""

    push_key: str
    ok: bool
    record_id: str | None = None
    created: bool = False
    action: Action | None = None
    reason: str | None = None


@dataclass(frozen=True)
class CheckItem:
    """One line of ``closedloop check``: what was checked, the verdict, and how to fix it."""

    topic: str
    ok: bool
    detail: str
    fix: str | None = None


@dataclass(frozen=True)
class ProvisionStep:
    """One thing ``closedloop provision`` creates (or found already there)."""

    kind: str
    target: str
    detail: str
    exists: bool


@dataclass(frozen=True)
class WonDeal:
    """A closed deal or opportunity as the CRM sees it (stage metadata decides won/closed).

    ``home_amount`` is the amount converted to the home (corporate) currency the way the CRM
    converts it, and ``rate_source`` says how (``hubspot:deal``, ``salesforce:dated``,
    ``salesforce:static``; None when the CRM did not convert). ``is_deleted`` marks a deal
    that no longer exists; ``modified_at`` is when the CRM last changed it.
    """

    deal_id: str
    amount: float | None
    currency: str | None
    home_amount: float | None
    is_won: bool
    is_closed: bool
    close_date: datetime | None
    buyer_ids: list[str] = field(default_factory=list)
    campaign_id: str | None = None
    is_deleted: bool = False
    rate_source: str | None = None
    modified_at: datetime | None = None


@dataclass(frozen=True)
class MarketingEvent:
    """A behavioural event for the marketing side (e.g. a won deal), idempotent by push key."""

    push_key: str
    name: str
    occurred_at: datetime
    email: str | None = None
    object_id: str | None = None
    properties: dict[str, Value] = field(default_factory=dict)


class Connector(ABC):
    """A vendor system closedloop can read from and write to.

    Subclasses set :attr:`name` and implement every abstract method; built-ins are registered
    in :mod:`closedloop.connectors.registry`, third-party ones through the
    ``closedloop.connectors`` entry-point group.
    """

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = SYSTEM_CLOCK) -> Connector:
        """Build the connector from closedloop's settings."""

    @abstractmethod
    def check(self) -> list[CheckItem]:
        """Connectivity, scopes or permissions, and the fields closedloop needs."""

    @abstractmethod
    def provision(self, *, dry_run: bool) -> list[ProvisionStep]:
        """Create the custom properties or fields closedloop writes (or only plan it)."""

    @abstractmethod
    def read_changes(
        self, object_type: str, since: Watermark, fields: Sequence[str]
    ) -> Iterator[Page]:
        """Stream records changed after ``since`` in (modified time, id) order."""

    @abstractmethod
    def read_all(
        self, object_type: str, fields: Sequence[str], history: Sequence[str] = ()
    ) -> Iterator[Page]:
        """Stream every record (full reconciliation).

        ``history`` names fields whose change history to include, where the system keeps one.
        """

    @abstractmethod
    def read_records(
        self,
        object_type: str,
        ids: Sequence[str],
        fields: Sequence[str],
        history: Sequence[str] = (),
    ) -> list[Record]:
        """Read records by id; absent ids are left out.

        ``history`` names fields whose change history to include, where the system keeps one.
        """

    @abstractmethod
    def find(
        self, object_type: str, field: str, values: Sequence[str], fields: Sequence[str]
    ) -> list[Record]:
        """Records whose ``field`` equals one of ``values`` (matching before creating)."""

    @abstractmethod
    def write(self, rows: Sequence[RowWrite]) -> list[RowResult]:
        """Upsert or update rows, batched to the vendor maximum; one result per row, in order."""

    @abstractmethod
    def related_ids(
        self, object_type: str, ids: Sequence[str], to_type: str
    ) -> dict[str, list[str]]:
        """For each id, the ids of associated ``to_type`` records (deal -> contacts...)."""

    @abstractmethod
    def closed_deals(self, since: Watermark) -> Iterator[WonDeal]:
        """Deals or opportunities closed or changed since ``since``."""

    def deals_by_id(self, ids: Sequence[str]) -> list[WonDeal]:
        """The deals named by ``ids`` as they are now, closed or not.

        An id that no longer exists comes back with ``is_deleted`` set, so the revenue loop
        can reverse its revenue. Connectors without deals raise :class:`NotImplementedError`.
        """
        raise NotImplementedError(f"{self.name} cannot read deals by id")

    def push_events(self, events: Sequence[MarketingEvent]) -> list[RowResult]:
        """Send behavioural events; systems without them refuse each with the reason."""
        reason = f"{self.name} takes no behavioural events; revenue goes to fields instead"
        return [RowResult(e.push_key, False, action=Action.SKIP_ROW, reason=reason) for e in events]

    @abstractmethod
    def budget(self) -> BudgetSnapshot:
        """API budget used and left."""

    def close(self) -> None:  # noqa: B027  (optional hook: most connectors hold no resources)
        """Release connections."""

    def describe(self) -> dict[str, Any]:
        """A short description for ``closedloop status``."""
        return {"name": self.name}
