#!/bin/sh
# Creates Temporal's two PostgreSQL databases (history and visibility) and brings their schemas
# to the version this server image expects. Runs at every `docker compose up`, so each step is
# safe to repeat: an existing database is kept and update-schema only applies what is missing.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
# The admin-tools image keeps the schema files here; `npm run stack -- --production` runs this
# same script against the server module's own copy.
schema_root=${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" "$@"
}

for pair in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  db=${pair%%:*}
  schema=${pair##*:}
  # Fails when the database exists, which is the normal case after the first run; a real
  # connection problem fails the next command anyway.
  sql --db "$db" create-database || echo "database $db already exists"
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "$schema_root/$schema/versioned"
done
echo "Temporal schemas are up to date."
