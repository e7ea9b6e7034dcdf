"""Security checks: lockfile readers, advisory sources and the secrets scanner."""
