"""Password hashing with argon2id; the async forms run the hashing off the event loop."""

from __future__ import annotations

import asyncio
import os

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

PROFILES = {
    # RFC 9106's second recommended option (64 MiB, 3 passes), sized for a 2-core server.
    "standard": PasswordHasher(time_cost=3, memory_cost=65536, parallelism=1),
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
