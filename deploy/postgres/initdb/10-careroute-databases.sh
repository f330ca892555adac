#!/bin/sh
# PostgreSQL initialisation for docker-compose (mounted into /docker-entrypoint-initdb.d; runs once,
# on an empty data directory, as the superuser). It mirrors the embedded stack's
# careroute_devstack.stack.provision_database, one database per service:
#
#   <svc>_owner  owns the database and the schema; runs the migrations (the `<svc>-migrate` job);
#   <svc>        the runtime role (api, relay, worker): only the DML rights granted below, through
#                default privileges, so every table a migration creates is usable and nothing more
#                (the audit service's migrations revoke UPDATE/DELETE/TRUNCATE on its log from it).
#
# Production hardening beyond the embedded stack: CONNECT on each database is revoked from PUBLIC,
# so one service's roles cannot even connect to another service's database.
#
# Passwords come from the environment (<SVC>_DB_OWNER_PASSWORD, <SVC>_DB_PASSWORD; see
# deploy/compose/env.example) and are passed to psql as variables, never spliced into SQL text.
# Use URL-safe passwords (hex): they also appear in the services' database URLs.
set -eu

SERVICES="intake referral notify audit"

for svc in $SERVICES; do
  upper="$(echo "$svc" | tr '[:lower:]' '[:upper:]')"
  eval "owner_password=\${${upper}_DB_OWNER_PASSWORD:?${upper}_DB_OWNER_PASSWORD is not set}"
  eval "runtime_password=\${${upper}_DB_PASSWORD:?${upper}_DB_PASSWORD is not set}"

  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
       -v db="$svc" -v owner="${svc}_owner" -v runtime="$svc" \
       -v owner_password="$owner_password" -v runtime_password="$runtime_password" <<'SQL'
SELECT format('create role %I login password %L', :'owner', :'owner_password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('create role %I login password %L', :'runtime', :'runtime_password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'runtime') \gexec
SELECT format('create database %I owner %I', :'db', :'owner')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
revoke connect on database :"db" from public;
SQL

  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$svc" \
       -v db="$svc" -v owner="${svc}_owner" -v runtime="$svc" <<'SQL'
grant connect on database :"db" to :"runtime";
alter schema public owner to :"owner";
grant usage on schema public to :"runtime";
alter default privileges for role :"owner" in schema public grant select, insert, update, delete on tables to :"runtime";
alter default privileges for role :"owner" in schema public grant usage, select on sequences to :"runtime";
SQL
  echo "careroute: database $svc with roles ${svc}_owner and $svc ready"
done
