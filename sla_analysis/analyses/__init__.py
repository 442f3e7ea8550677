"""The analyses: pure functions from validated CRM tables (Ibis) to small aggregated frames and
figures, each with its n and interval. Nothing here displays or writes files."""
