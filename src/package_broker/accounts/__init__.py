"""Dashboard users: passwords, sessions, roles, two-factor codes and first-run setup.

* users.py: `User` (what the API shows) and `UserStore` (`broker.users`);
* passwords.py: PBKDF2-SHA256 hashes that verify on both runtimes (through the Kdf port);
* sessions.py: cookie sessions stored as hashes (`broker.sessions`);
* totp.py, recovery.py: RFC 6238 codes and one-time recovery codes;
* sealed.py: TOTP secrets sealed at rest under ENCRYPTION_KEY (legacy clear ones still accepted);
* login.py, setup.py: signing in (throttled) and creating the first admin;
* web.py: the session cookie, CSRF and Origin checks, and `current_user` for the admin API's dispatcher.
"""

from .users import User

__all__ = ["User"]
