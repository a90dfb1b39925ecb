"""One emulated org: schema, records, users and org-wide settings, as a fresh org starts.

A fresh org has the standard objects and fields, the standard picklists (LeadSource,
LeadStatus, opportunity stages), two users (an administrator who owns seeded data and the
integration user every API token authenticates as), a single currency (USD) and no custom
fields. :meth:`SalesforceEmulator.reset` simply builds a new :class:`Org`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from closedloop.emulators.clock import EmulatorClock
from closedloop.emulators.salesforce.ids import KEY_PREFIXES, IdFactory
from closedloop.emulators.salesforce.permissions import FieldSecurity
from closedloop.emulators.salesforce.records import RecordWriter
from closedloop.emulators.salesforce.schema import Schema
from closedloop.emulators.salesforce.store import RecordStore
from closedloop.emulators.salesforce.values import format_datetime


@dataclass
class LeadMapping:
    """One row of Setup → Lead → Map Lead Fields: a custom Lead field copied on conversion."""

    lead_field: str
    target_object: str
    target_field: str


class Org:
    """The state of one org.

    Args:
        clock: the emulator clock (timestamps, token expiry, schedules).
        seed: folded into generated ids so different seeds give different ids.
        api_username: username of the integration (API) user.
        edition: ``"Enterprise Edition"`` or ``"Developer Edition"`` (shown on Organization).
    """

    def __init__(
        self, clock: EmulatorClock, *, seed: int = 0, api_username: str, edition: str
    ) -> None:
        self.clock = clock
        self.ids = IdFactory(seed)
        self.schema = Schema()
        self.store = RecordStore()
        self.org_id = self.ids.new(KEY_PREFIXES["Organization"])
        self.created_at = format_datetime(clock.now())
        self.purged_before = self.created_at
        self.schema_changed_at = clock.timestamp()
        self.corporate_currency = "USD"
        self.lead_mappings: list[LeadMapping] = []
        self.writer = RecordWriter(self)
        self.admin_user_id = self.insert_system_row(
            "User",
            Username="admin@closedloop-emulator.example",
            FirstName="Ada",
            LastName="Admin",
            Name="Ada Admin",
            Email="admin@closedloop-emulator.example",
            IsActive=True,
            Alias="aadmin",
            DefaultCurrencyIsoCode="USD",
        )
        self.api_user_id = self.insert_system_row(
            "User",
            Username=api_username,
            FirstName="Integration",
            LastName="User",
            Name="Integration User",
            Email="integration@closedloop-emulator.example",
            IsActive=True,
            Alias="integ",
            DefaultCurrencyIsoCode="USD",
        )
        self.security = FieldSecurity(self.store, self.api_user_id)
        self.insert_system_row(
            "Organization",
            Id=self.org_id,
            Name="closedloop Emulator Org",
            OrganizationType=edition,
            IsSandbox=False,
            InstanceName="EMU1",
            DefaultLocaleSidKey="en_US",
        )
        for order, (label, probability, forecast, closed, won) in enumerate(self.schema.stages, 1):
            forecast_name = {"Pipeline": "Pipeline", "Closed": "Closed", "Omitted": "Omitted"}[
                forecast
            ]
            self.insert_system_row(
                "OpportunityStage",
                MasterLabel=label,
                ApiName=label,
                IsActive=True,
                SortOrder=order,
                IsClosed=closed,
                IsWon=won,
                ForecastCategory=forecast,
                ForecastCategoryName=forecast_name,
                DefaultProbability=float(probability),
                Description=None,
            )
        for order, label in enumerate(self.schema.picklists["LeadStatus"], 1):
            self.insert_system_row(
                "LeadStatus",
                MasterLabel=label,
                ApiName=label,
                SortOrder=order,
                IsDefault=order == 1,
                IsConverted=label == "Closed - Converted",
            )

    def insert_system_row(self, sobject: str, **values: Any) -> str:
        """Insert a reference-data row directly (no validation, no API user involved)."""
        obj = self.schema.objects[sobject.lower()]
        now = format_datetime(self.clock.now())
        row: dict[str, Any] = {f.name: None for f in obj.fields.values()}
        row.update(values)
        row.setdefault("Id", None)
        row["Id"] = row["Id"] or self.ids.new(obj.prefix)
        row["IsDeleted"] = False
        row["CreatedDate"] = row["LastModifiedDate"] = row["SystemModstamp"] = now
        owner = getattr(self, "admin_user_id", None) or row["Id"]
        row["CreatedById"] = row["LastModifiedById"] = owner
        self.store.put(sobject, row, "create", frozenset())
        return str(row["Id"])

    def update_system_row(self, sobject: str, record_id: str, **values: Any) -> None:
        """Change a row directly (reference data such as currency rates), bumping SystemModstamp."""
        row = dict(self.store.tables[sobject][record_id])
        row.update(values)
        row["SystemModstamp"] = row["LastModifiedDate"] = format_datetime(self.clock.now())
        self.store.put(sobject, row, "update", frozenset(values))

    def stage(self, label: str) -> dict[str, Any] | None:
        """The OpportunityStage row with this label (case-insensitive)."""
        for row in self.store.rows("OpportunityStage"):
            if str(row["MasterLabel"]).lower() == label.lower():
                return row
        return None

    def converted_status(self) -> str:
        """The LeadStatus value marked as converted."""
        for row in self.store.rows("LeadStatus"):
            if row["IsConverted"]:
                return str(row["MasterLabel"])
        return "Closed - Converted"
