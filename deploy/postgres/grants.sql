-- Run as dosekeeper_owner after every `dosekeeper migrate`: the append-only tables get
-- INSERT and SELECT only (their triggers refuse changes as well; belt and braces).
REVOKE UPDATE, DELETE, TRUNCATE ON
    audit_events, household_confirmations, releases, box_confirmations, alert_history,
    delivery_attempts, labels, register_entries
FROM dosekeeper_app;
REVOKE TRUNCATE ON ALL TABLES IN SCHEMA public FROM dosekeeper_app;
