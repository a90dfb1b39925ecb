"""Synthetic marketing touches: what one visit looks like in HubSpot's source properties.

Each channel yields HubSpot's source enum and drill-downs, the UTM parameters of the
landing URL, the referrer and, for paid channels, a click id.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

FIRST_NAMES = (
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Femi",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kara",
    "Luis",
    "Maya",
    "Nils",
    "Olga",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
)
LAST_NAMES = (
    "Adams",
    "Brown",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Martin",
    "Nguyen",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Silva",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
    "Xu",
    "Young",
    "Zimmer",
)
COMPANY_WORDS = (
    "Acme",
    "Blue",
    "Cedar",
    "Delta",
    "Ember",
    "Falcon",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Maple",
    "Nimbus",
    "Orbit",
    "Pioneer",
)
COMPANY_NOUNS = (
    "Labs",
    "Systems",
    "Analytics",
    "Logistics",
    "Health",
    "Foods",
    "Robotics",
    "Software",
    "Partners",
    "Energy",
    "Media",
    "Capital",
)
INDUSTRIES = (
    "COMPUTER_SOFTWARE",
    "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "FINANCIAL_SERVICES",
    "HOSPITAL_HEALTH_CARE",
    "MARKETING_AND_ADVERTISING",
    "RETAIL",
    "MANUFACTURING",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "INTERNET",
)
COUNTRIES = ("United States", "United Kingdom", "Germany", "France", "Canada", "Australia")
CAMPAIGNS = (
    "spring_launch",
    "brand_search",
    "retargeting_q2",
    "webinar_series",
    "pricing_page",
    "competitor_terms",
    "ebook_2026",
    "newsletter",
)
KEYWORDS = (
    "crm integration",
    "marketing attribution",
    "closed loop reporting",
    "lead source tracking",
    "revenue attribution software",
)
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com")
SITE = "https://www.example-saas.com"
PAGES = ("/", "/pricing", "/blog/attribution-101", "/demo", "/features", "/ebook")


@dataclass
class Touch:
    """One session: source properties, UTMs, landing page, referrer, click ids."""

    source: str
    data_1: str
    data_2: str
    url: str
    referrer: str = ""
    utm: dict[str, str] = field(default_factory=dict)
    click_ids: dict[str, str] = field(default_factory=dict)
    campaign: str = ""


def _landing(rng: random.Random, utm: dict[str, str], click_ids: dict[str, str]) -> str:
    query = "&".join(f"{k}={v}" for k, v in {**utm, **click_ids}.items())
    page = rng.choice(PAGES)
    return f"{SITE}{page}{'?' + query if query else ''}"


def make_touch(rng: random.Random) -> Touch:
    """A random touch, weighted roughly like a B2B SaaS traffic mix."""
    channel = rng.choices(
        (
            "PAID_SEARCH",
            "ORGANIC_SEARCH",
            "PAID_SOCIAL",
            "EMAIL_MARKETING",
            "REFERRALS",
            "SOCIAL_MEDIA",
            "DIRECT_TRAFFIC",
        ),
        weights=(22, 25, 14, 12, 10, 7, 10),
    )[0]
    campaign = rng.choice(CAMPAIGNS)
    keyword = rng.choice(KEYWORDS)
    clicks: dict[str, str] = {}
    if channel == "PAID_SEARCH":
        utm = {
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": campaign,
            "utm_term": keyword.replace(" ", "+"),
        }
        clicks["gclid"] = f"Cj0K{rng.getrandbits(64):016x}"
        return Touch(
            channel,
            campaign,
            keyword,
            _landing(rng, utm, clicks),
            "https://www.google.com/",
            utm,
            clicks,
            campaign,
        )
    if channel == "PAID_SOCIAL":
        network = rng.choice(("facebook", "linkedin"))
        utm = {"utm_source": network, "utm_medium": "paid_social", "utm_campaign": campaign}
        if network == "facebook":
            clicks["fbclid"] = f"IwAR{rng.getrandbits(64):016x}"
        return Touch(
            channel,
            network.capitalize(),
            campaign,
            _landing(rng, utm, clicks),
            f"https://www.{network}.com/",
            utm,
            clicks,
            campaign,
        )
    if channel == "EMAIL_MARKETING":
        utm = {"utm_source": "hubspot", "utm_medium": "email", "utm_campaign": campaign}
        return Touch(
            channel,
            campaign,
            f"{campaign} email",
            _landing(rng, utm, clicks),
            "",
            utm,
            clicks,
            campaign,
        )
    if channel == "ORGANIC_SEARCH":
        engine = rng.choice(("google", "bing"))
        return Touch(
            channel,
            engine,
            "unknown keywords (SSL)",
            _landing(rng, {}, clicks),
            f"https://www.{engine}.com/",
        )
    if channel == "REFERRALS":
        domain = rng.choice(("g2.com", "capterra.com", "partner-blog.io", "news.ycombinator.com"))
        return Touch(
            channel,
            domain,
            f"https://{domain}/review",
            _landing(rng, {}, clicks),
            f"https://{domain}/review",
        )
    if channel == "SOCIAL_MEDIA":
        network = rng.choice(("linkedin", "twitter"))
        utm = {"utm_source": network, "utm_medium": "social", "utm_campaign": campaign}
        return Touch(
            channel,
            network.capitalize(),
            "",
            _landing(rng, utm, clicks),
            f"https://www.{network}.com/",
            utm,
        )
    return Touch(channel, f"{SITE}/", "", _landing(rng, {}, clicks))
