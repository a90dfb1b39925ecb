"""The state store: SQLAlchemy engine, schema and Alembic migrations.

SQLite (a file in the data directory, WAL mode, foreign keys on) is the embedded default;
PostgreSQL (psycopg 3) is the production store. Tables arrive with the code that uses them,
each through a migration in ``store/migrations/versions``.
"""
