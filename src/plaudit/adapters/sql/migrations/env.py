"""Alembic environment: always run through :func:`plaudit.adapters.sql.schema.upgrade`,
which hands over an open connection (no URL in an ini file)."""

from alembic import context

from plaudit.adapters.sql.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
