"""The `package-broker` command line, one module per audience:

* operate.py: run the broker (`init`, `serve`, `migrate`, `sync`, `publish`);
* tokens.py: who may install (`token create|list|revoke`);
* sources.py: where packages come from (`source add|list|show|edit|disable|enable|remove`);
* packages.py: what is served (`package list|show|delete|restore`);
* audit.py: who changed what (`audit`);
* keys.py: the key that seals upstream credentials (`keys check|rotate`).
* users.py: who may use the dashboard (`user create|list|remove|set-role|reset-password|reset-2fa|logout`).

Every command reads the same environment as the server (DATA_DIR, DB_URL, ...) and applies pending
migrations first. Only `init`, `serve` and `migrate` create a broker where there is none: any other
command run from the wrong directory says where it looked instead of making a second, empty broker.
Configuration errors end the command with one line naming the variable; nothing prints a secret except
`token create`, once, on purpose. Commands that print data take `--json` (times in ISO 8601); people get
times with their zone.
"""

from __future__ import annotations

import os
import sys

import click

from .... import __version__
from .advisories import advisory
from .audit import audit
from .keys import keys
from .mirror import vendor
from .operate import init, migrate_command, publish, serve, sync
from .packages import package
from .sources import source
from .tokens import token
from .users import user


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="package-broker")
def main() -> None:
    """PACKAGE.broker: a private Composer repository.

    Configuration comes from the environment (DATA_DIR, DB_URL, STORAGE_PATH, CACHE_DRIVER, PORT,
    BASE_URL, ENCRYPTION_KEY, ...); see README.md.
    """
    from .... import logs
    from ....errors import ConfigError
    from .common import fail

    # Commands print their results on stdout; their log lines (warnings) go to stderr.
    try:
        logs.configure(os.environ.get("LOG_LEVEL") or "warning", stream=sys.stderr)
    except ConfigError as exc:
        fail(f"{exc.variable}: {exc.problem}", 2)


for command in (init, serve, migrate_command, sync, publish, token, source, package, audit, keys, user):
    main.add_command(command)
for command in (vendor, advisory):  # the lazy mirror's private vendors, advisories for private packages
    main.add_command(command)
