-- Request limits per token and failed-authentication throttling (access/ratelimit.py): one row per key and
-- fixed window, incremented atomically; windows long past are deleted now and then.
CREATE TABLE rate_counters (
    key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
