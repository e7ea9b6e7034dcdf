"""Database maintenance tasks: the runbook's "Database Maintenance" and quarterly tuning."""
