"""Password hashing: production's parameters, and hashes that verify and rehash."""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import sys
import threading

import pytest

from domain import passwords
from domain.passwords import HASHER, PROFILES, hash_password, needs_rehash, verify_password


def test_production_hashing_is_an_owasp_argon2id_setting() -> None:
    standard = PROFILES["standard"]
    assert (standard.time_cost, standard.memory_cost, standard.parallelism) == (5, 7168, 1)


def test_a_hash_verifies_its_password_only() -> None:
    stored = hash_password("Correct horse 1")
    assert verify_password(stored, "Correct horse 1")
    assert not verify_password(stored, "Correct horse 2")
    assert not verify_password("not a hash", "Correct horse 1")


def test_a_hash_made_with_other_parameters_needs_rehashing() -> None:
    other = "test" if HASHER is PROFILES["standard"] else "standard"
    assert needs_rehash(hash_password("pw", PROFILES[other]))
    assert not needs_rehash(hash_password("pw"))


async def test_hashing_runs_in_threads_of_its_own_scheduled_behind_the_pages() -> None:
    """Sign-ins must not take the CPU from page rendering: on Linux the hashing threads run
    at a higher nice value than the event loop's thread."""

    def where() -> tuple[str, int]:
        nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return threading.current_thread().name, nice

    name, nice = await asyncio.get_running_loop().run_in_executor(passwords._HASHING, where)
    assert name.startswith("password-hashing")
    if sys.platform == "linux":
        assert nice == os.getpriority(os.PRIO_PROCESS, 0) + passwords.HASHING_NICENESS
    stored = await passwords.hash_password_async("correct horse")
    assert await passwords.verify_password_async(stored, "correct horse")
    assert not await passwords.verify_password_async(stored, "wrong horse")


HASH_IN_TWO_THREADS = """
from concurrent.futures import ThreadPoolExecutor
from domain.passwords import PROFILES
hasher = PROFILES["standard"]
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
with ThreadPoolExecutor(2) as pool:
    hasher.hash("warm up")
    before = rss()
    list(pool.map(hasher.hash, [f"password {n}" for n in range(20)]))
    print(rss() - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_a_hashs_memory_goes_back_to_the_os_when_it_is_done() -> None:
    # In a fresh interpreter, as a server starts: the standard profile's 7 MiB per hash,
    # two threads, twenty hashes. Kept in the threads' arenas it was 14 MiB for good.
    assert passwords.give_large_blocks_back_to_the_os()
    grown = subprocess.run(
        [sys.executable, "-c", HASH_IN_TWO_THREADS], capture_output=True, text=True, check=True
    ).stdout
    assert int(grown) < 4 * 1024 * 1024
