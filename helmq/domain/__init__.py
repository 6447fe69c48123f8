"""Pure domain: statuses, tiers, findings, grammar and rules. Imports the stdlib only."""
