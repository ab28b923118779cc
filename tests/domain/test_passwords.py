"""Password hashing: production's parameters, and hashes that verify and rehash."""

from __future__ import annotations

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
