"""Running one Bulk API 2.0 ingest job: CSV rows through the record writer, result CSVs out.

Empty cells leave a field unchanged and ``#N/A`` clears it. A column such as
``Account.External_Id__c`` (or ``Parent__r.Ext__c``) relates a row to its parent by external
id. An unknown column fails the whole job; row-level failures land in ``failedResults`` with
``sf__Error`` written as ``STATUS_CODE:message:fields --``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from closedloop.emulators.salesforce.errors import RecordError, duplicate_external_id
from closedloop.emulators.salesforce.ids import normalize_id
from closedloop.emulators.salesforce.org import Org
from closedloop.emulators.salesforce.rest_sobjects import matches, upsert_one
from closedloop.emulators.salesforce.schema import FieldDef, ObjectDef


@dataclass
class IngestOutcome:
    """What a finished ingest job reports: result CSVs, counts and a job-level error."""

    files: dict[str, str] = field(default_factory=dict)
    processed: int = 0
    failed: int = 0
    error: str | None = None


def _relationship_column(
    org: Org, obj: ObjectDef, column: str
) -> tuple[FieldDef, ObjectDef, FieldDef]:
    relationship, _, ext_name = column.partition(".")
    for definition in obj.fields.values():
        if (
            definition.relationship_name or ""
        ).lower() == relationship.lower() and org.security.visible(obj, definition):
            parent = org.schema.get(definition.reference_to[0])
            ext = parent.get(ext_name) if parent else None
            if (
                parent
                and ext
                and (ext.external_id or ext.name == "Id")
                and org.security.visible(parent, ext)
            ):
                return definition, parent, ext
    raise LookupError(column)


def _check_header(org: Org, obj: ObjectDef, header: list[str]) -> str | None:
    for column in header:
        if "." in column:
            try:
                _relationship_column(org, obj, column)
            except LookupError:
                return f"InvalidBatch : Field name not found : {column}"
            continue
        definition = obj.get(column)
        if definition is None or not org.security.visible(obj, definition):
            return f"InvalidBatch : Field name not found : {column}"
    return None


def _values(org: Org, obj: ObjectDef, row: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column, cell in row.items():
        if "." not in column:
            values[column] = cell
            continue
        if cell == "":
            continue
        reference, parent, ext = _relationship_column(org, obj, column)
        found = matches(org, parent, ext, cell)
        if len(found) != 1:
            raise RecordError(
                "INVALID_FIELD",
                f"Foreign key external ID: {cell} not found for field {ext.name} "
                f"in entity {parent.name}",
                [reference.name],
            )
        values[reference.name] = found[0]
    return values


def _process_row(
    org: Org, obj: ObjectDef, operation: str, external: FieldDef | None, row: dict[str, str]
) -> tuple[str, bool]:
    values = _values(org, obj, row)
    record_id = next((v for k, v in values.items() if k.lower() == "id"), "")
    if operation == "insert":
        return org.writer.create(obj, values, from_csv=True), True
    if operation in ("delete", "hardDelete"):
        target = _existing(org, obj, record_id)
        org.writer.delete(obj, target)
        if operation == "hardDelete":
            org.store.purge(obj.name, target)
        return target, False
    if operation == "update":
        target = _existing(org, obj, record_id)
        org.writer.update(obj, target, values, from_csv=True)
        return target, False
    if external is None:
        raise RecordError("MISSING_ARGUMENT", "upsert jobs need an external id field")
    value = next((str(v) for k, v in values.items() if k.lower() == external.name.lower()), "")
    if not value:
        raise RecordError("MISSING_ARGUMENT", f"{external.name} not specified", [external.name])
    outcome = upsert_one(org, obj, external, value, values, from_csv=True)
    if isinstance(outcome, list):
        raise duplicate_external_id(external.name, outcome)
    return outcome


def _existing(org: Org, obj: ObjectDef, raw: str) -> str:
    record_id = normalize_id(raw) if raw else None
    if record_id is None or org.store.get(obj.name, record_id) is None:
        raise RecordError(
            "INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {raw}", ["Id"]
        )
    return record_id


def run_ingest(
    org: Org,
    sobject: str,
    operation: str,
    external_field: str | None,
    data: str,
    delimiter: str,
    line_ending: str,
) -> IngestOutcome:
    """Apply an uploaded CSV to the org and build the result files."""
    obj = org.schema.get(sobject)
    reader = csv.DictReader(io.StringIO(data, newline=""), delimiter=delimiter)
    header = list(reader.fieldnames or [])
    if obj is None:
        return IngestOutcome(error=f"InvalidJob : Unable to find object: {sobject}")
    problem = _check_header(org, obj, header)
    external = obj.get(external_field) if external_field else None
    if (
        problem is None
        and external_field
        and (external is None or not org.security.visible(obj, external))
    ):
        problem = f"InvalidBatch : Field name not found : {external_field}"
    if problem:
        return IngestOutcome(files={"unprocessed": data}, error=problem)
    ok_buffer, ok_rows = _writer(["sf__Id", "sf__Created", *header], delimiter, line_ending)
    bad_buffer, bad_rows = _writer(["sf__Id", "sf__Error", *header], delimiter, line_ending)
    outcome = IngestOutcome()
    with org.store.transaction():
        for row in reader:
            cells = [row.get(column) or "" for column in header]
            outcome.processed += 1
            try:
                with org.store.savepoint():
                    record_id, created = _process_row(org, obj, operation, external, row)
                ok_rows.writerow([record_id, "true" if created else "false", *cells])
            except RecordError as error:
                outcome.failed += 1
                bad_rows.writerow([row.get("Id") or "", error.as_bulk(), *cells])
    outcome.files = {
        "successful": ok_buffer.getvalue(),
        "failed": bad_buffer.getvalue(),
        "unprocessed": _writer(header, delimiter, line_ending)[0].getvalue(),
    }
    return outcome


def _writer(header: list[str], delimiter: str, line_ending: str) -> tuple[io.StringIO, Any]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_ending)
    writer.writerow(header)
    return buffer, writer
