-- Grants by exact package name: a token may be limited by prefixes (allowed_package_prefixes), by exact
-- names (allowed_packages, a JSON list such as ["acme/lib"]), or both; it then sees the union. Both NULL:
-- every package.
ALTER TABLE tokens ADD COLUMN allowed_packages TEXT;
