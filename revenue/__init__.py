"""Revenue: closed-won events, attribution models and push-back to the marketing side."""
