"""The HubSpot connector, on hubspot-api-client."""
