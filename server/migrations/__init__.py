"""Schema migrations of the "models" app, applied by server.db.open_database; see README, "Database migrations"."""
