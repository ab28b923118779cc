"""Password hashing with argon2id; the async forms run the hashing off the event loop."""

from __future__ import annotations

import asyncio
import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

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


# Hashing is slow on purpose, and must not slow the pages: it runs in threads of its own
# that the kernel schedules behind the event loop (a higher nice value; on Linux the nice
# value is a thread's own). Under load the pages keep their latency and sign-ins take
# the CPU the pages leave; at nice 3 a hashing thread still gets a third of a busy core,
# more than ten sign-ins a second need (bench/results).
HASHING_NICENESS = 3


def _schedule_behind_the_pages() -> None:
    # Relative to the thread that started it (the event loop's), should the whole
    # process already run at a nice value of its own.
    with suppress(OSError, AttributeError):  # not Linux, or not allowed: same priority
        thread = threading.get_native_id()
        nice = os.getpriority(os.PRIO_PROCESS, thread) + HASHING_NICENESS
        os.setpriority(os.PRIO_PROCESS, thread, min(nice, 19))


# glibc raises its mmap threshold to the size of the largest block freed so far, so after
# the first hash a hash's memory (PROFILES' memory cost, megabytes) comes from the heap of
# the hashing thread's malloc arena and stays there when freed: 14 MB kept for good by two
# hashing threads (bench/results/2026-11-22-findings-3.md). A fixed threshold (glibc's
# initial one) keeps large blocks mapped on their own and given back when freed.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 128 * 1024


def give_large_blocks_back_to_the_os() -> bool:
    """Fix the C library's mmap threshold; False where there is no glibc mallopt."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


give_large_blocks_back_to_the_os()

_HASHING = ThreadPoolExecutor(
    max_workers=max(2, os.cpu_count() or 1),
    thread_name_prefix="password-hashing",
    initializer=_schedule_behind_the_pages,
)


async def hash_password_async(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, hash_password, password)


async def verify_password_async(stored_hash: str, password: str) -> bool:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_HASHING, verify_password, stored_hash, password)
