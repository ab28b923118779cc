"""The test suite.

Passwords are hashed with a cheap argon2 profile here: the suite hashes and verifies
thousands of them, and production's 64 MiB per hash would only make it slow. Set before
any of our modules is imported; `portal serve` processes started by browser tests inherit it.
"""

import os

os.environ.setdefault("PORTAL_PASSWORD_HASHING", "test")
