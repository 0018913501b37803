-- Admin authentication and the role catalogue the admin API checks (cloud/internal/admin):
-- opaque session tokens stored hashed, a pending TOTP secret during enrolment, the last TOTP
-- time step used (a code is accepted once), a persistent failure count and lockout, the user
-- agent of each audit entry, and the seeded roles viewer, support, fleet_operator, finance and
-- super_admin (the earlier 'superadmin' renamed).

-- +goose Up
ALTER TABLE admins
    ADD COLUMN totp_pending_ciphertext bytea,
    ADD COLUMN totp_pending_key_id     text,
    ADD COLUMN totp_last_step          bigint CHECK (totp_last_step >= 0),
    ADD COLUMN failed_logins           integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    ADD COLUMN locked_until            timestamptz,
    ADD CONSTRAINT admins_totp_pending_sealed CHECK ((totp_pending_ciphertext IS NULL) = (totp_pending_key_id IS NULL));

-- A session row is either a full session (stage 'session') or the short-lived challenge between
-- a correct password and the TOTP code (stage 'totp'). Only SHA-256 of the token is stored.
CREATE TABLE admin_sessions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    admin_id     uuid NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    token_hash   bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    stage        text NOT NULL CHECK (stage IN ('session', 'totp')),
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    source_ip    inet,
    user_agent   text CHECK (char_length(user_agent) <= 512),
    CHECK (expires_at > created_at)
);
CREATE INDEX admin_sessions_admin_idx ON admin_sessions (admin_id);
CREATE INDEX admin_sessions_expiry_idx ON admin_sessions (expires_at);
-- Token hashes are credentials' fingerprints: dashboards do not read them.
REVOKE SELECT ON admin_sessions FROM fleetedge_reporting;

ALTER TABLE admin_audit_log ADD COLUMN user_agent text CHECK (char_length(user_agent) <= 512);
GRANT SELECT (user_agent) ON admin_audit_log TO fleetedge_reporting;

INSERT INTO permissions (code, description) VALUES
    ('admins.read', 'see admins and the role catalogue');

UPDATE roles SET name = 'super_admin', description = 'every permission, including managing admins and reading the audit log'
    WHERE name = 'superadmin';
INSERT INTO role_permissions (role_id, permission_code)
    SELECT r.id, 'admins.read' FROM roles r WHERE r.name = 'super_admin';

INSERT INTO roles (name, description) VALUES
    ('viewer', 'read-only view of the fleet, zones, tariffs and analytics'),
    ('support', 'rider support: see riders and payments, suspend and reactivate riders'),
    ('fleet_operator', 'run the fleet: commands, firmware, vehicles, zones'),
    ('finance', 'money: payments, refunds and balance adjustments, tariffs, exports');
INSERT INTO role_permissions (role_id, permission_code)
    SELECT r.id, p.code FROM roles r JOIN (VALUES
        ('viewer', 'vehicles.read'), ('viewer', 'zones.read'), ('viewer', 'tariffs.read'), ('viewer', 'analytics.read'),
        ('support', 'riders.read'), ('support', 'riders.suspend'), ('support', 'payments.read'),
        ('support', 'vehicles.read'), ('support', 'zones.read'), ('support', 'tariffs.read'),
        ('fleet_operator', 'vehicles.read'), ('fleet_operator', 'vehicles.command'), ('fleet_operator', 'vehicles.manage'),
        ('fleet_operator', 'firmware.manage'), ('fleet_operator', 'zones.read'), ('fleet_operator', 'zones.write'),
        ('fleet_operator', 'tariffs.read'), ('fleet_operator', 'analytics.read'),
        ('finance', 'riders.read'), ('finance', 'riders.refund'), ('finance', 'payments.read'),
        ('finance', 'tariffs.read'), ('finance', 'tariffs.write'), ('finance', 'zones.read'),
        ('finance', 'vehicles.read'), ('finance', 'analytics.read'), ('finance', 'exports.create')
    ) AS p (role, code) ON p.role = r.name;

-- +goose Down
DELETE FROM roles WHERE name IN ('viewer', 'support', 'fleet_operator', 'finance');
UPDATE roles SET name = 'superadmin', description = 'every permission' WHERE name = 'super_admin';
DELETE FROM permissions WHERE code = 'admins.read';
ALTER TABLE admin_audit_log DROP COLUMN user_agent;
DROP TABLE admin_sessions;
ALTER TABLE admins
    DROP CONSTRAINT admins_totp_pending_sealed,
    DROP COLUMN locked_until,
    DROP COLUMN failed_logins,
    DROP COLUMN totp_last_step,
    DROP COLUMN totp_pending_key_id,
    DROP COLUMN totp_pending_ciphertext;
