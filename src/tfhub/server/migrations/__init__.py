"""Alembic migrations of the hub's database, run by ``Database.migrate()`` at startup."""
