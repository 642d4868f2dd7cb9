-- Dashboard users, their sessions and two-factor recovery codes (package_broker.accounts).

-- One row per user. `password_hash` is pbkdf2_sha256$<iterations>$<salt>$<hash> (never the password);
-- `totp_secret` is set once two-factor is confirmed, `totp_pending` while it waits for the first code;
-- `totp_last_step` is the last 30-second step whose code was accepted (a code is never accepted twice).
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    -- admin or viewer.
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    totp_secret TEXT,
    totp_pending TEXT,
    totp_last_step BIGINT,
    -- Unix seconds.
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_login_at BIGINT
);

-- Signed-in browsers. Only the SHA-256 of the cookie's value is stored; ending a session deletes its row.
CREATE TABLE user_sessions (
    id_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    -- Sent back in X-CSRF-Token on every write.
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    -- The absolute end (SESSION_HOURS after sign-in); idle sessions end earlier (SESSION_IDLE_MINUTES).
    expires_at BIGINT NOT NULL,
    address TEXT
);
CREATE INDEX user_sessions_user ON user_sessions (user_name);

-- Unused recovery codes (SHA-256); using one deletes it.
CREATE TABLE user_recovery_codes (
    user_name TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_name, code_hash)
);
