"""Who bought: a deal's buyer records resolved to closedloop people.

* HubSpot deals: the associated contacts (``deal -> contacts``, v4 associations), each the
  person its ``hubspot:contacts:<id>`` identity stands for.
* Salesforce opportunities: the ``OpportunityContactRole`` contacts (primary first). A contact
  not yet known to the identity store is followed back to the Lead it was converted from
  (``Lead.ConvertedContactId``); an opportunity without contact roles falls back to the Leads
  converted into it (``Lead.ConvertedOpportunityId``) and to the person its own identity
  names (the sync links a converted lead's opportunity to the lead's person).

Buyer records that lead to no person are dropped; a deal with no person left is unattributed.
"""

from __future__ import annotations

from collections.abc import Sequence

from closedloop.connectors.contract import Connector, WonDeal
from closedloop.sync.identity import IdentityStore
from closedloop.sync.model import RecordRef

__all__ = ["BuyerResolver"]

_BUYER_OBJECT = {"hubspot": "contacts", "salesforce": "Contact"}


class BuyerResolver:
    """Resolves the buyers of a batch of deals of one CRM.

    Args:
        system: the CRM's system name.
        connector: its connector (for the converted-lead look-ups on Salesforce).
        identity: the identity store.
    """

    def __init__(self, system: str, connector: Connector, identity: IdentityStore) -> None:
        self.system = system
        self._connector = connector
        self._identity = identity

    def resolve(self, deals: Sequence[WonDeal]) -> dict[str, tuple[str, ...]]:
        """For each deal id, its buyers' person ids in buyer order, without duplicates."""
        object_type = _BUYER_OBJECT.get(self.system, "contacts")
        unknown: list[str] = []
        people: dict[str, list[str]] = {}
        for deal in deals:
            found = people.setdefault(deal.deal_id, [])
            for buyer in deal.buyer_ids:
                person = self._identity.person_of(RecordRef(self.system, object_type, buyer))
                if person is None:
                    unknown.append(buyer)
                elif person not in found:
                    found.append(person)
        if self.system == "salesforce":
            self._converted_leads(deals, unknown, people)
        return {deal_id: tuple(found) for deal_id, found in people.items()}

    def _converted_leads(
        self, deals: Sequence[WonDeal], unknown: list[str], people: dict[str, list[str]]
    ) -> None:
        by_contact: dict[str, list[str]] = {}
        if unknown:
            for lead in self._connector.find("Lead", "ConvertedContactId", unknown, ["Id"]):
                contact = str(lead.fields.get("ConvertedContactId") or "")
                by_contact.setdefault(contact, []).append(lead.id)
        orphans = [d.deal_id for d in deals if not people.get(d.deal_id)]
        by_opportunity: dict[str, list[str]] = {}
        if orphans:
            converted = self._connector.find("Lead", "ConvertedOpportunityId", orphans, ["Id"])
            for lead in converted:
                opportunity = str(lead.fields.get("ConvertedOpportunityId") or "")
                by_opportunity.setdefault(opportunity, []).append(lead.id)
        for deal in deals:
            found = people[deal.deal_id]
            leads = [lead for b in deal.buyer_ids for lead in by_contact.get(b, [])]
            if not found:
                leads += by_opportunity.get(deal.deal_id, [])
                own = self._identity.person_of(RecordRef("salesforce", "Opportunity", deal.deal_id))
                if own is not None:
                    found.append(own)
            for lead_id in leads:
                person = self._identity.person_of(RecordRef("salesforce", "Lead", lead_id))
                if person is not None and person not in found:
                    found.append(person)
