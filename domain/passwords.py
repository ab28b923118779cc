"""Password hashing with argon2id; the async forms run the hashing off the event loop."""

from __future__ import annotations

import asyncio
import os

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

PROFILES = {
    # One of OWASP's equivalent argon2id settings (7 MiB, 5 passes): about 25 ms a hash, so
    # that ten sign-ins a second take a quarter of a core instead of more than two (RFC
    # 9106's 64 MiB, 3 passes took 230 ms here), and six at once need 42 MiB, not 384.
    # Hashes made with the earlier setting are redone at their owner's next sign-in.
    "standard": PasswordHasher(time_cost=5, memory_cost=7168, parallelism=1),
    # For the test suite only (tests/__init__.py chooses it): it hashes and verifies
    # thousands of passwords, and what each costs is beside the point there.
    "test": PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
}
_PROFILE = os.environ.get("PORTAL_PASSWORD_HASHING", "standard")
if _PROFILE not in PROFILES:
    raise ValueError(f"PORTAL_PASSWORD_HASHING must be one of {sorted(PROFILES)}: {_PROFILE!r}")
HASHER = PROFILES[_PROFILE]


def hash_password(password: str, hasher: PasswordHasher = HASHER) -> str:
    return hasher.hash(password)


def verify_password(stored_hash: str, password: str, hasher: PasswordHasher = HASHER) -> bool:
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, hasher: PasswordHasher = HASHER) -> bool:
    return hasher.check_needs_rehash(stored_hash)


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(stored_hash: str, password: str) -> bool:
    return await asyncio.to_thread(verify_password, stored_hash, password)
