"""Association links between records, always stored in both directions.

Callers hold the portal lock.
"""

from __future__ import annotations

from closedloop.emulators.hubspot.association_types import AssociationType, find_type

SideKey = tuple[str, str, str]


class AssociationStore:
    """``(from type, from id, to type) -> {to id: {type id, ...}}`` in both directions."""

    def __init__(self) -> None:
        self._links: dict[SideKey, dict[str, set[int]]] = {}

    def add(self, from_id: str, to_id: str, kind: AssociationType) -> bool:
        """Link two records with ``kind`` (and its inverse); ``True`` when it was new."""
        targets = self._links.setdefault((kind.from_type, from_id, kind.to_type), {})
        if kind.is_primary:
            for other_id, type_ids in targets.items():
                if other_id != to_id and kind.type_id in type_ids:
                    self.remove(from_id, other_id, kind)
                    break
        current = targets.setdefault(to_id, set())
        added = kind.type_id not in current
        current.add(kind.type_id)
        back = self._links.setdefault((kind.to_type, to_id, kind.from_type), {})
        back.setdefault(from_id, set()).add(kind.inverse_id)
        return added

    def remove(self, from_id: str, to_id: str, kind: AssociationType) -> bool:
        """Remove one type between two records (and its inverse); ``True`` if it existed."""
        removed = self._discard((kind.from_type, from_id, kind.to_type), to_id, kind.type_id)
        self._discard((kind.to_type, to_id, kind.from_type), from_id, kind.inverse_id)
        return removed

    def remove_pair(self, from_type: str, from_id: str, to_type: str, to_id: str) -> int:
        """Remove every type between two records; the number of types removed."""
        type_ids = set(self._links.get((from_type, from_id, to_type), {}).get(to_id, set()))
        for type_id in type_ids:
            kind = find_type(from_type, type_id)
            if kind is not None:
                self.remove(from_id, to_id, kind)
        return len(type_ids)

    def targets(self, from_type: str, from_id: str, to_type: str) -> dict[str, set[int]]:
        """The records linked from one record to a type, with the type ids of each link."""
        return {
            to_id: set(type_ids)
            for to_id, type_ids in self._links.get((from_type, from_id, to_type), {}).items()
            if type_ids
        }

    def detach(self, object_type: str, record_id: str) -> None:
        """Remove every link of a record (GDPR delete, merged-away record)."""
        for key in [k for k in self._links if k[0] == object_type and k[1] == record_id]:
            for to_id in list(self._links.get(key, {})):
                self.remove_pair(object_type, record_id, key[2], to_id)
            self._links.pop(key, None)

    def move(self, object_type: str, old_id: str, new_id: str) -> None:
        """Give every link of ``old_id`` to ``new_id`` (merge), then drop ``old_id``."""
        for key in [k for k in self._links if k[0] == object_type and k[1] == old_id]:
            for to_id, type_ids in list(self._links.get(key, {}).items()):
                for type_id in list(type_ids):
                    kind = find_type(object_type, type_id)
                    if kind is None or to_id in (old_id, new_id):
                        continue
                    self.add(new_id, to_id, kind)
        self.detach(object_type, old_id)

    def count(self) -> int:
        """The number of directed links (each association counts twice)."""
        return sum(len(ids) for targets in self._links.values() for ids in targets.values())

    def _discard(self, key: SideKey, to_id: str, type_id: int) -> bool:
        targets = self._links.get(key)
        if not targets or type_id not in targets.get(to_id, set()):
            return False
        targets[to_id].discard(type_id)
        if not targets[to_id]:
            del targets[to_id]
        return True
