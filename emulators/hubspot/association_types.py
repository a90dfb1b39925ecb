"""HubSpot-defined association types between contacts, companies and deals.

Every type has an inverse (contact→company 279 is company→contact 280); primary types
(1, 2, 5, 6) carry the label ``Primary``. The v3 record API names a type by ``name``.
"""

from __future__ import annotations

from dataclasses import dataclass

from closedloop.emulators.hubspot.errors import validation_error

HUBSPOT_DEFINED = "HUBSPOT_DEFINED"
CATEGORIES = ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED", "WORK")


@dataclass(frozen=True)
class AssociationType:
    """One directed association type."""

    from_type: str
    to_type: str
    type_id: int
    inverse_id: int
    name: str
    label: str | None = None
    category: str = HUBSPOT_DEFINED

    @property
    def is_primary(self) -> bool:
        """Whether a record may hold this type to one target only."""
        return self.label == "Primary"

    def spec(self) -> dict[str, object]:
        """The ``AssociationSpec`` wire form."""
        return {"associationCategory": self.category, "associationTypeId": self.type_id}

    def spec_with_label(self) -> dict[str, object]:
        """The ``AssociationSpecWithLabel`` wire form."""
        return {"category": self.category, "typeId": self.type_id, "label": self.label}


def _pair(
    from_type: str, to_type: str, type_id: int, inverse_id: int, label: str | None = None
) -> tuple[AssociationType, AssociationType]:
    singular = {"contacts": "contact", "companies": "company", "deals": "deal"}
    forward = f"{singular[from_type]}_to_{singular[to_type]}"
    backward = f"{singular[to_type]}_to_{singular[from_type]}"
    unlabeled = "" if label or from_type == to_type or type_id in (3, 4) else "_unlabeled"
    return (
        AssociationType(from_type, to_type, type_id, inverse_id, forward + unlabeled, label),
        AssociationType(to_type, from_type, inverse_id, type_id, backward + unlabeled, label),
    )


HUBSPOT_TYPES: tuple[AssociationType, ...] = (
    *_pair("contacts", "companies", 279, 280),
    *_pair("contacts", "companies", 1, 2, "Primary"),
    *_pair("deals", "contacts", 3, 4),
    *_pair("deals", "companies", 341, 342),
    *_pair("deals", "companies", 5, 6, "Primary"),
    AssociationType("contacts", "contacts", 449, 449, "contact_to_contact"),
    AssociationType("companies", "companies", 450, 450, "company_to_company"),
    AssociationType("deals", "deals", 451, 451, "deal_to_deal"),
)

DEFAULT_TYPE_IDS: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
    ("contacts", "contacts"): 449,
    ("companies", "companies"): 450,
    ("deals", "deals"): 451,
}

_BY_KEY = {(t.from_type, t.type_id): t for t in HUBSPOT_TYPES}


def find_type(from_type: str, type_id: int) -> AssociationType | None:
    """The type with this id that starts at ``from_type``, if any."""
    return _BY_KEY.get((from_type, type_id))


def default_type(from_type: str, to_type: str) -> AssociationType:
    """The unlabelled default type between two object types."""
    found = find_type(from_type, DEFAULT_TYPE_IDS[(from_type, to_type)])
    if found is None:  # pragma: no cover - the table above is complete
        raise KeyError((from_type, to_type))
    return found


def resolve_spec(from_type: str, to_type: str | None, spec: dict[str, object]) -> AssociationType:
    """The association type an ``AssociationSpec`` names, checked against the two types.

    Raises:
        HubSpotApiError: a 400 for an unknown category, id or object-type pair.
    """
    category = spec.get("associationCategory")
    type_id = spec.get("associationTypeId")
    if category not in CATEGORIES or not isinstance(type_id, int):
        raise validation_error(f"Invalid association spec: {spec}")
    found = find_type(from_type, type_id)
    if found is None or found.category != category:
        raise validation_error(
            f"{category} association type {type_id} is not valid from {from_type}."
        )
    if to_type is not None and found.to_type != to_type:
        raise validation_error(
            f"association type {type_id} links {from_type} to {found.to_type}, not {to_type}."
        )
    return found
