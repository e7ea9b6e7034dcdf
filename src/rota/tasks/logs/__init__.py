"""Log management tasks: the runbook's "Log Management" and weekly rotation check."""
