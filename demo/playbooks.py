"""What the people in each demo topology do: marketing's quarter, then the reps'.

A :class:`Playbook` names the steps that differ between topologies; :func:`run_demo
<closedloop.demo.loop.run_demo>` runs the same loop around them for every topology:

* ``hubspot-salesforce``: HubSpot contacts with UTM journeys; reps convert Salesforce Leads
  and close Opportunities; Salesforce's Outbound Messages notify closedloop.
* ``hubspot``: HubSpot is marketing and CRM: contacts with journeys; reps open deals on
  contacts and close them in HubSpot; HubSpot's deal webhooks notify closedloop.
* ``salesforce``: Salesforce is marketing and CRM: Leads with campaign responses; reps convert
  them and close Opportunities; push-back lands on the Campaigns.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from closedloop.demo import hubspot_sales as hs
from closedloop.demo import quarter as q
from closedloop.demo import salesforce_sales as sf
from closedloop.demo.world import DemoWorld

__all__ = ["PLAYBOOKS", "Playbook"]


class Playbook:
    """The people's side of one topology (the HubSpot marketing + Salesforce CRM one)."""

    marketing_story = "{people:,} HubSpot contacts with UTM journeys"
    first_sync_story = "stamping source fields onto new Salesforce leads"
    open_story = "reps convert {deals} leads into opportunities"
    close_story = "reps close deals in USD, EUR, GBP and CAD; Salesforce notifies closedloop"

    def seed_marketing(self, world: DemoWorld, *, people: int, seed: int) -> None:
        """Marketing's quarter: the people and their journeys."""
        q.seed_hubspot_marketing(world, people=people, seed=seed)

    def configure(self, world: DemoWorld, today: date) -> None:
        """Setup an administrator does once: the CRM's currencies."""
        sf.configure_currencies(world, today)

    def subscribe(self, world: DemoWorld) -> None:
        """Point the systems' webhooks at the service."""
        q.subscribe_hubspot(world, deals=False)
        sf.subscribe_outbound(world)

    def open_deals(self, world: DemoWorld, *, deals: int, seed: int) -> q.Quarter:
        """Reps open ``deals`` deals for people closedloop synced."""
        return sf.convert_leads(world, deals=deals, seed=seed)

    def close_deals(self, world: DemoWorld, quarter: q.Quarter, *, today: date, seed: int) -> None:
        """Reps set amounts, currencies and stages."""
        sf.close_opportunities(world, quarter, today=today, seed=seed)

    def won_revenue(self, world: DemoWorld, today: date) -> tuple[int, Decimal]:
        """Won deals and their revenue, as the CRM converts it."""
        return sf.won_revenue(world, today)


class HubSpotPlaybook(Playbook):
    """HubSpot as marketing system and CRM."""

    first_sync_story = "stamping source fields onto the HubSpot contacts"
    open_story = "reps open {deals} deals in HubSpot, each with its contact"
    close_story = "reps close deals in USD, EUR, GBP and CAD; HubSpot's webhooks notify closedloop"

    def configure(self, world: DemoWorld, today: date) -> None:
        """HubSpot's portal already has its currencies and exchange rates."""

    def subscribe(self, world: DemoWorld) -> None:
        """HubSpot webhooks for watched contact properties and deal changes."""
        q.subscribe_hubspot(world, deals=True)

    def open_deals(self, world: DemoWorld, *, deals: int, seed: int) -> q.Quarter:
        """Reps open deals on known contacts."""
        return hs.open_deals(world, deals=deals, seed=seed)

    def close_deals(self, world: DemoWorld, quarter: q.Quarter, *, today: date, seed: int) -> None:
        """Reps set amounts, currencies, close dates and stages in HubSpot."""
        hs.close_deals(world, quarter, today=today, seed=seed)

    def won_revenue(self, world: DemoWorld, today: date) -> tuple[int, Decimal]:
        """Won deals and HubSpot's own home-currency amounts."""
        del today
        return hs.won_revenue(world)


class SalesforcePlaybook(Playbook):
    """Salesforce as marketing system and CRM."""

    marketing_story = "{people:,} Salesforce leads with campaign responses"
    first_sync_story = "stamping source fields onto the Salesforce leads"

    def seed_marketing(self, world: DemoWorld, *, people: int, seed: int) -> None:
        """Leads created by campaign responses, with more responses later."""
        sf.seed_leads(world, people=people, seed=seed)

    def subscribe(self, world: DemoWorld) -> None:
        """An Outbound Message on Opportunity changes."""
        sf.subscribe_outbound(world)


PLAYBOOKS: dict[str, Playbook] = {
    "hubspot-salesforce": Playbook(),
    "hubspot": HubSpotPlaybook(),
    "salesforce": SalesforcePlaybook(),
}
