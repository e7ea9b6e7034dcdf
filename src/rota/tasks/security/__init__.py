"""Security: dependency audit, environment variables and secrets."""
