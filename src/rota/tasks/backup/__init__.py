"""Backup tasks: the runbook's "Backup Verification", and the backups it verifies."""
