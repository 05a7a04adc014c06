-- Roles for Dosekeeper. Run as a superuser:  psql -v app_password=... -v owner_password=... -f setup.sql
-- The owner runs migrations and owns the tables; the application role can only read and append
-- to the clinical record. It cannot TRUNCATE anything, cannot UPDATE or DELETE the append-only
-- tables, and, not owning them, cannot disable their triggers.
CREATE ROLE dosekeeper_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE dosekeeper_app LOGIN PASSWORD :'app_password';
CREATE DATABASE dosekeeper OWNER dosekeeper_owner;
\connect dosekeeper
ALTER DEFAULT PRIVILEGES FOR ROLE dosekeeper_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dosekeeper_app;
ALTER DEFAULT PRIVILEGES FOR ROLE dosekeeper_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO dosekeeper_app;
GRANT USAGE ON SCHEMA public TO dosekeeper_app;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
