"""The CRM object types the emulator serves, and how paths name them.

HubSpot accepts an object type by plural name, singular name or object type id
(``/crm/v3/objects/deals`` is the same as ``/crm/v3/objects/0-3``).
"""

from __future__ import annotations

from dataclasses import dataclass

from closedloop.emulators.hubspot.errors import validation_error


@dataclass(frozen=True)
class ObjectType:
    """Everything the emulator needs to know about one CRM object type."""

    name: str
    type_id: str
    singular: str
    modified_property: str
    list_properties: tuple[str, ...]
    search_properties: tuple[str, ...]
    query_properties: tuple[str, ...]

    @property
    def label(self) -> str:
        """The upper-case name HubSpot uses in batch messages (``CONTACT``)."""
        return self.singular.upper()

    def scope(self, access: str) -> str:
        """The granular scope for ``read`` or ``write`` access to this type."""
        return f"crm.objects.{self.name}.{access}"

    def schema_scope(self, access: str) -> str:
        """The scope for ``read`` or ``write`` access to this type's properties."""
        return f"crm.schemas.{self.name}.{access}"


CONTACTS = ObjectType(
    name="contacts",
    type_id="0-1",
    singular="contact",
    modified_property="lastmodifieddate",
    list_properties=(
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    search_properties=(
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    query_properties=("firstname", "lastname", "email", "phone", "company", "website"),
)
COMPANIES = ObjectType(
    name="companies",
    type_id="0-2",
    singular="company",
    modified_property="hs_lastmodifieddate",
    list_properties=("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    search_properties=("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"),
    query_properties=("name", "domain", "website", "phone"),
)
DEALS = ObjectType(
    name="deals",
    type_id="0-3",
    singular="deal",
    modified_property="hs_lastmodifieddate",
    list_properties=(
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    search_properties=(
        "dealname",
        "amount",
        "closedate",
        "pipeline",
        "dealstage",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
    ),
    query_properties=("dealname",),
)
OBJECT_TYPES: tuple[ObjectType, ...] = (CONTACTS, COMPANIES, DEALS)

_BY_ALIAS: dict[str, ObjectType] = {}
for _object_type in OBJECT_TYPES:
    for _alias in (_object_type.name, _object_type.singular, _object_type.type_id):
        _BY_ALIAS[_alias] = _object_type


def find_object_type(segment: str) -> ObjectType | None:
    """The object type a path segment names, or ``None`` when it names none."""
    return _BY_ALIAS.get(segment.lower())


def resolve_object_type(segment: str) -> ObjectType:
    """The object type a path segment names.

    Raises:
        HubSpotApiError: a 400, as HubSpot answers for an unknown object type.
    """
    found = find_object_type(segment)
    if found is None:
        raise validation_error(f"Unable to infer object type from: {segment}")
    return found
