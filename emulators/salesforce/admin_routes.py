"""Salesforce-specific admin routes under ``/__emulator__/`` (what an admin does in Setup).

Permission sets, custom fields and objects, multi-currency, Outbound Messages, lead-field
mapping and conversion, the daily API allowance and session settings, JWT certificates,
direct record writes (drift that bypasses the API user, and list-view mass updates) and the
recycle bin. Admin calls are not counted against API limits. Errors answer 400 ``{"error": "..."}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify, request

from closedloop.emulators.admin import ADMIN_PREFIX
from closedloop.emulators.salesforce.conversion import convert_lead, set_lead_mapping
from closedloop.emulators.salesforce.currency import configure_currency, describe_currency
from closedloop.emulators.salesforce.errors import ApiError, RecordError
from closedloop.emulators.salesforce.permissions_admin import assign, grant_fields, unassign
from closedloop.emulators.salesforce.tooling import create_custom_field, create_custom_object

if TYPE_CHECKING:
    from closedloop.emulators.salesforce.emulator import SalesforceEmulator


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _runner(emu: SalesforceEmulator) -> Callable[..., Response]:
    def run(action: Callable[[], Any], status: int = 200) -> Response:
        try:
            with emu.lock:
                result = action()
        except (ValueError, KeyError, TypeError) as exc:
            return _error(str(exc))
        except RecordError as exc:
            return _error(f"{exc.code}: {exc.message}")
        except ApiError as exc:
            return _error(f"{exc.entries[0]['errorCode']}: {exc.entries[0]['message']}")
        response = jsonify(result)
        response.status_code = status
        return response

    return run


def salesforce_admin_blueprint(emu: SalesforceEmulator) -> Blueprint:
    """The Salesforce admin routes."""
    admin = Blueprint("salesforce_admin", __name__, url_prefix=ADMIN_PREFIX)
    run = _runner(emu)
    _setup_routes(admin, emu, run)
    _operation_routes(admin, emu, run)
    _record_routes(admin, emu, run)
    return admin


def _setup_routes(admin: Blueprint, emu: SalesforceEmulator, run: Callable[..., Response]) -> None:
    @admin.post("/custom-fields")
    def custom_field() -> Response:
        body = _body()
        metadata = {k: v for k, v in body.items() if k not in ("full_name", "grant")}
        definition = None

        def create() -> dict[str, Any]:
            nonlocal definition
            definition = create_custom_field(emu.org, str(body.get("full_name", "")), metadata)
            if body.get("grant"):
                grant_fields(
                    emu.org,
                    "Emulator_Admin_Grants",
                    [body["full_name"]],
                    edit=True,
                    assign_now=True,
                )
            return {"id": definition.metadata_id, "name": definition.name, "type": definition.type}

        return run(create, 201)

    @admin.post("/custom-objects")
    def custom_object() -> Response:
        body = _body()
        return run(
            lambda: {
                "id": create_custom_object(
                    emu.org, str(body.get("full_name", "")), body
                ).metadata_id
            },
            201,
        )

    @admin.post("/permission-sets")
    def permission_set() -> Response:
        body = _body()
        return run(
            lambda: grant_fields(
                emu.org,
                str(body["name"]),
                list(body.get("fields", [])),
                edit=bool(body.get("edit", True)),
                assign_now=bool(body.get("assign", False)),
            )
        )

    @admin.post("/permission-sets/assign")
    def permission_assign() -> Response:
        body = _body()
        return run(lambda: assign(emu.org, str(body.get("permission_set") or body.get("name"))))

    @admin.post("/permission-sets/unassign")
    def permission_unassign() -> Response:
        body = _body()
        return run(lambda: unassign(emu.org, str(body.get("permission_set") or body.get("name"))))

    @admin.route("/currency", methods=["GET", "POST"])
    def currency() -> Response:
        if request.method == "GET":
            return run(lambda: describe_currency(emu.org))
        return run(lambda: configure_currency(emu.org, _body()))

    @admin.route("/lead-mapping", methods=["GET", "POST"])
    def lead_mapping() -> Response:
        if request.method == "POST":
            return run(
                lambda: [
                    asdict(m) for m in set_lead_mapping(emu.org, list(_body().get("mappings", [])))
                ]
            )
        return run(lambda: [asdict(m) for m in emu.org.lead_mappings])


def _operation_routes(
    admin: Blueprint, emu: SalesforceEmulator, run: Callable[..., Response]
) -> None:
    @admin.post("/convert-lead")
    def convert() -> Response:
        return run(lambda: convert_lead(emu.org, _body()))

    @admin.route("/outbound-messages", methods=["GET", "POST"])
    def outbound() -> Response:
        if request.method == "GET":
            return jsonify(emu.outbound.describe())
        return run(lambda: asdict(emu.outbound.configure(_body())), 201)

    @admin.post("/outbound-messages/flush")
    def outbound_flush() -> Response:
        return jsonify(emu.outbound.flush(all_pending=bool(_body().get("all_pending"))))

    @admin.get("/write-log")
    def write_log() -> Response:
        after = request.args.get("after", "0")
        if not after.isdigit():
            return _error("after must be a non-negative integer")
        entries = emu.write_log.entries(request.args.get("object"), int(after))
        return jsonify({"entries": entries, "count": len(entries)})

    @admin.route("/limits", methods=["GET", "POST"])
    def limits() -> Response:
        body = _body()

        def apply() -> dict[str, Any]:
            if "daily_api_requests" in body:
                emu.usage.daily_max = int(body["daily_api_requests"])
            if "used" in body:
                emu.usage.set_used(int(body["used"]))
            return {"daily_api_requests": emu.usage.daily_max, "used": emu.usage.used()}

        return run(apply)

    @admin.post("/settings")
    def settings() -> Response:
        body = _body()

        def apply() -> dict[str, Any]:
            if "session_timeout" in body:
                emu.auth.session_timeout = float(body["session_timeout"])
            if "password_flow" in body:
                emu.auth.password_flow = bool(body["password_flow"])
            if body.get("revoke_sessions"):
                emu.sessions.revoke_all()
            return {
                "session_timeout": emu.auth.session_timeout,
                "password_flow": emu.auth.password_flow,
            }

        return run(apply)

    @admin.post("/jwt-keys")
    def jwt_keys() -> Response:
        body = _body()

        def register() -> dict[str, Any]:
            emu.auth.jwt_keys[str(body.get("client_id") or emu.auth.client_id)] = str(
                body["certificate"]
            )
            return {"registered": sorted(emu.auth.jwt_keys)}

        return run(register)


def _record_routes(admin: Blueprint, emu: SalesforceEmulator, run: Callable[..., Response]) -> None:
    def obj(name: str) -> Any:
        found = emu.org.schema.get(name)
        if found is None:
            raise ValueError(f"unknown sObject {name}")
        return found

    @admin.post("/records/<sobject>")
    def record_create(sobject: str) -> Response:
        body = _body()
        return run(
            lambda: {
                "id": _in_tx(emu, lambda: emu.org.writer.create(obj(sobject), body, system=True))
            },
            201,
        )

    @admin.patch("/records/<sobject>")
    def record_mass_update(sobject: str) -> Response:
        """A list view's mass update: ``{"records": [{"Id": ..., field: value}]}``, one save."""
        rows = list(_body().get("records", []))

        def update_all() -> dict[str, Any]:
            target = obj(sobject)
            for row in rows:
                values = {k: v for k, v in dict(row).items() if k != "Id"}
                emu.org.writer.update(target, str(row["Id"]), values, system=True)
            return {"updated": len(rows)}

        return run(lambda: _in_tx(emu, update_all))

    @admin.route("/records/<sobject>/<record_id>", methods=["GET", "PATCH", "DELETE"])
    def record(sobject: str, record_id: str) -> Response:
        writer = emu.org.writer
        if request.method == "GET":
            return run(lambda: writer.live(obj(sobject), record_id))
        if request.method == "DELETE":
            return run(
                lambda: (
                    _in_tx(emu, lambda: writer.delete(obj(sobject), record_id, system=True))
                    or {"deleted": True}
                )
            )
        body = _body()

        def update() -> dict[str, Any]:
            _in_tx(emu, lambda: writer.update(obj(sobject), record_id, body, system=True))
            return dict(writer.live(obj(sobject), record_id))

        return run(update)

    @admin.post("/recycle-bin/purge")
    def purge() -> Response:
        def empty() -> dict[str, Any]:
            org = emu.org
            purged = [
                (name, rid)
                for name, table in org.store.tables.items()
                for rid, row in table.items()
                if row.get("IsDeleted")
            ]
            for name, rid in purged:
                org.store.purge(name, rid)
            from closedloop.emulators.salesforce.values import format_datetime  # noqa: PLC0415

            org.purged_before = format_datetime(org.clock.now())
            return {"purged": len(purged), "earliestDateAvailable": org.purged_before}

        return run(empty)


def _in_tx(emu: SalesforceEmulator, action: Callable[[], Any]) -> Any:
    with emu.org.store.transaction():
        return action()


def _error(message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = 400
    return response
