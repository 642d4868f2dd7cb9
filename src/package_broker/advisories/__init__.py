"""Security advisories for `composer audit` (and Composer >= 2.9's blocking of insecure versions).

packages.json advertises `security-advisories` with an absolute `api-url` (web/advisories.py answers it).
Mirrored packages get their upstream's advisories (packagist.org's API), cached; private packages get only
the advisories the operator records (`package-broker advisory add`, `POST /api/advisories`): an upstream
advisory about a public package of the same name says nothing about a private one.
"""
