"""Outbound Messages: triggers on record changes, a delivery queue, retries until the ACK.

An admin configures a message (object, condition such as ``"StageName changed"``, fields,
endpoint URL). Matching committed changes queue one notification per record (a record
already waiting is not queued twice; values are read at send time, as Salesforce does, so a
change made while a message is in flight queues a new notification).
Due notifications of one action go out together, at most 100 per message. A failed delivery
is retried after exponentially growing intervals (15 s doubling, capped at 2 h) on the
emulator clock, and dropped once it has waited 24 h. A background thread delivers what is
due; :meth:`OutboundMessages.flush` does the same synchronously for tests.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from closedloop.emulators.salesforce.ids import KEY_PREFIXES
from closedloop.emulators.salesforce.outbound_envelope import (
    EnvelopeNotification,
    build_envelope,
    is_ack,
)
from closedloop.emulators.salesforce.store import Change

if TYPE_CHECKING:
    from closedloop.emulators.salesforce.emulator import SalesforceEmulator

FIRST_RETRY, MAX_INTERVAL, GIVE_UP_AFTER, MAX_PER_MESSAGE = 15.0, 7200.0, 86_400.0, 100


@dataclass
class OutboundConfig:
    """One Outbound Message definition (Setup → Outbound Messages)."""

    action_id: str
    sobject: str
    endpoint: str
    fields: list[str]
    condition: str = "created or edited"
    criteria: dict[str, Any] = field(default_factory=dict)
    send_session_id: bool = False
    api_version: str = "59.0"
    active: bool = True

    def triggered_by(self, change: Change, row: dict[str, Any]) -> bool:
        """Whether a committed change fires this message."""
        if change.kind == "delete" or change.sobject != self.sobject or not self.active:
            return False
        if any(row.get(name) != wanted for name, wanted in self.criteria.items()):
            return False
        condition = self.condition.strip()
        if condition.lower() == "created":
            return change.kind == "create"
        if condition.lower().endswith(" changed"):
            watched = condition[: -len(" changed")].strip().lower()
            return change.kind == "update" and watched in {name.lower() for name in change.changed}
        return True


@dataclass
class _Pending:
    notification_id: str
    action_id: str
    record_id: str
    queued_at: float
    next_attempt: float
    attempts: int = 0
    last_error: str | None = None
    in_flight: bool = False  # its values were read into a message not yet answered


class OutboundMessages:
    """Configured messages, the delivery queue and the delivery log of one emulator."""

    def __init__(self, emu: SalesforceEmulator) -> None:
        self._emu = emu
        self.configs: dict[str, OutboundConfig] = {}
        self.pending: list[_Pending] = []
        self.log: list[dict[str, Any]] = []
        self.dropped: list[dict[str, Any]] = []
        self._deliver_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def configure(self, spec: dict[str, Any]) -> OutboundConfig:
        """Add a message definition from an admin request body.

        Raises:
            ValueError: when the object, endpoint or fields are missing.
        """
        org = self._emu.org
        obj = org.schema.get(str(spec.get("object", "")))
        endpoint = str(spec.get("endpoint") or spec.get("endpoint_url") or "")
        if obj is None or not endpoint:
            raise ValueError("an outbound message needs an existing 'object' and an 'endpoint'")
        fields = [str(name) for name in spec.get("fields", [])]
        unknown = [name for name in fields if obj.get(name) is None]
        if unknown:
            raise ValueError(f"unknown fields on {obj.name}: {unknown}")
        config = OutboundConfig(
            action_id=str(spec.get("action_id") or org.ids.new(KEY_PREFIXES["OutboundAction"])),
            sobject=obj.name,
            endpoint=endpoint,
            fields=fields,
            condition=str(spec.get("condition") or "created or edited"),
            criteria=dict(spec.get("criteria") or {}),
            send_session_id=bool(spec.get("send_session_id")),
            api_version=str(spec.get("api_version") or "59.0"),
        )
        self.configs[config.action_id] = config
        if self._emu.options.outbound_background:
            self._start()
        return config

    def on_changes(self, changes: list[Change]) -> None:
        """Store listener: queue notifications for committed changes (called under the lock)."""
        if not self.configs:
            return
        org, now = self._emu.org, self._emu.clock.timestamp()
        for change in changes:
            row = org.store.get(change.sobject, change.record_id)
            for config in self.configs.values():
                if row is None or not config.triggered_by(change, row):
                    continue
                if any(
                    p.action_id == config.action_id
                    and p.record_id == change.record_id
                    and not p.in_flight
                    for p in self.pending
                ):
                    continue
                notification_id = org.ids.new(KEY_PREFIXES["OutboundNotification"])
                self.pending.append(
                    _Pending(notification_id, config.action_id, change.record_id, now, now)
                )

    def flush(self, *, all_pending: bool = False) -> dict[str, int]:
        """Deliver every due message now (or every pending one with ``all_pending``).

        Returns:
            Counts of messages ``sent``, ``acknowledged`` and notifications ``dropped``.
        """
        summary = {"sent": 0, "acknowledged": 0, "dropped": 0}
        with self._deliver_lock:
            for action_id, batch, body, endpoint in self._due_messages(all_pending):
                ok, error = self._post(endpoint, body)
                summary["sent"] += 1
                summary["acknowledged"] += int(ok)
                summary["dropped"] += self._settle(action_id, batch, ok, error)
        return summary

    def _due_messages(self, all_pending: bool) -> list[tuple[str, list[_Pending], str, str]]:
        emu = self._emu
        with emu.lock:
            org, now = emu.org, emu.clock.timestamp()
            messages = []
            for action_id, config in self.configs.items():
                due = [
                    p
                    for p in self.pending
                    if p.action_id == action_id and (all_pending or p.next_attempt <= now)
                ]
                for start in range(0, len(due), MAX_PER_MESSAGE):
                    batch = due[start : start + MAX_PER_MESSAGE]
                    notes = [self._notification(config, p) for p in batch]
                    for item in batch:
                        item.in_flight = True
                    present = [n for n in notes if n is not None]
                    if not present:
                        continue
                    base = emu.options.instance_url or "https://emulator.my.salesforce.com"
                    org15 = org.org_id[:15]
                    session = (
                        emu.sessions.issue(org.org_id, org.api_user_id)
                        if config.send_session_id
                        else None
                    )
                    body = build_envelope(
                        organization_id=org.org_id,
                        action_id=action_id,
                        session_id=session,
                        enterprise_url=f"{base}/services/Soap/c/{config.api_version}/{org15}",
                        partner_url=f"{base}/services/Soap/u/{config.api_version}/{org15}",
                        notifications=present,
                    )
                    messages.append((action_id, batch, body, config.endpoint))
            return messages

    def _notification(
        self, config: OutboundConfig, pending: _Pending
    ) -> EnvelopeNotification | None:
        org = self._emu.org
        obj = org.schema.get(config.sobject)
        row = org.store.get(config.sobject, pending.record_id, include_deleted=True)
        if obj is None or row is None:
            return None
        values: dict[str, Any] = {"Id": row["Id"]}
        for name in config.fields:
            definition = obj.get(name)
            if definition is not None and org.security.visible(obj, definition):
                values[definition.name] = row.get(definition.name)
        return EnvelopeNotification(pending.notification_id, obj.name, values)

    def _post(self, endpoint: str, body: str) -> tuple[bool, str | None]:
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
        try:
            reply = requests.post(
                endpoint,
                data=body.encode(),
                headers=headers,
                timeout=self._emu.options.outbound_timeout,
            )
        except requests.RequestException as exc:
            return False, type(exc).__name__
        if is_ack(reply.status_code, reply.content):
            return True, None
        return False, f"HTTP {reply.status_code}: no ACK"

    def _settle(self, action_id: str, batch: list[_Pending], ok: bool, error: str | None) -> int:
        with self._emu.lock:
            now = self._emu.clock.timestamp()
            dropped = 0
            self.log.append(
                {
                    "action_id": action_id,
                    "notifications": [p.notification_id for p in batch],
                    "acknowledged": ok,
                    "error": error,
                    "at": now,
                }
            )
            for item in batch:
                item.attempts += 1
                if ok or now - item.queued_at >= GIVE_UP_AFTER:
                    if item in self.pending:
                        self.pending.remove(item)
                    if not ok:
                        dropped += 1
                        self.dropped.append(asdict(item))
                    continue
                item.last_error = error
                item.in_flight = False
                item.next_attempt = now + min(MAX_INTERVAL, FIRST_RETRY * 2 ** (item.attempts - 1))
            return dropped

    def describe(self) -> dict[str, Any]:
        """Definitions, queue, delivery log and dropped notifications, as admin JSON."""
        with self._emu.lock:
            return {
                "messages": [asdict(c) for c in self.configs.values()],
                "pending": [asdict(p) for p in self.pending],
                "deliveries": list(self.log),
                "dropped": list(self.dropped),
            }

    def reset(self) -> None:
        """Forget definitions, queue and log (the caller holds the emulator lock)."""
        with self._emu.lock:
            self.configs.clear()
            self.pending.clear()
            self.log.clear()
            self.dropped.clear()

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="salesforce-outbound", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._emu.options.outbound_poll_interval):
            if self.pending:
                self.flush()

    def stop(self) -> None:
        """Stop the background delivery thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
