"""CN resident IDs and KZ IINs/BINs: published, hand-worked and generated numbers."""

from datetime import date

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from stdnum.cn import ric

from domain.national_ids import (
    cn_resident_id_birth_date,
    generate_cn_resident_id,
    generate_kz_bin,
    generate_kz_iin,
    has_kz_bin_layout,
    has_valid_cn_check_digit,
    has_valid_kz_check_digit,
    is_known_cn_area,
    is_valid_cn_resident_id,
    is_valid_kz_bin,
    is_valid_kz_iin,
    kz_check_digit,
    kz_iin_birth_date,
)


def first_pass(number: str) -> int:
    """The first KZ remainder, computed here independently of the module under test."""
    return (
        sum(int(digit) * weight for digit, weight in zip(number[:11], range(1, 12), strict=True))
        % 11
    )


def with_digit(number: str, position: int, digit: str) -> str:
    return number[:position] + digit + number[position + 1 :]


# --- Kazakhstan: worked examples -------------------------------------------------


def test_published_iin_checked_by_the_first_pass() -> None:
    # 791028302728, the example in the py-kz-validators README (a man born 1979-10-28).
    # 7·1 + 9·2 + 1·3 + 0·4 + 2·5 + 8·6 + 3·7 + 0·8 + 2·9 + 7·10 + 2·11
    #   = 7 + 18 + 3 + 0 + 10 + 48 + 21 + 0 + 18 + 70 + 22 = 217; 217 mod 11 = 8.
    assert kz_check_digit("79102830272") == 8
    assert is_valid_kz_iin("791028302728")
    assert kz_iin_birth_date("791028302728") == date(1979, 10, 28)


def test_published_iin_checked_by_the_second_pass() -> None:
    # 061211600012, the example in the kz-iin-validator README (a woman born 2006-12-11).
    # First pass: 0·1 + 6·2 + 1·3 + 2·4 + 1·5 + 1·6 + 6·7 + 0 + 0 + 0 + 1·11 = 87; 87 mod 11 = 10,
    # so weights 3..11,1,2: 0·3 + 6·4 + 1·5 + 2·6 + 1·7 + 1·8 + 6·9 + 0 + 0 + 0·1 + 1·2
    #   = 24 + 5 + 12 + 7 + 8 + 54 + 2 = 112; 112 mod 11 = 2.
    assert kz_check_digit("06121160001") == 2
    assert is_valid_kz_iin("061211600012")
    assert kz_iin_birth_date("061211600012") == date(2006, 12, 11)


def test_eleven_digits_with_remainder_ten_twice_are_never_issued() -> None:
    # 7·1 + 9·2 + 1·3 + 0·4 + 2·5 + 8·6 + 3·7 + 0·8 + 0·9 + 9·10 + 5·11 = 252; 252 mod 11 = 10.
    # 7·3 + 9·4 + 1·5 + 0·6 + 2·7 + 8·8 + 3·9 + 0·10 + 0·11 + 9·1 + 5·2 = 186; 186 mod 11 = 10.
    assert kz_check_digit("79102830095") is None
    assert not any(is_valid_kz_iin(f"79102830095{digit}") for digit in "0123456789")


def test_published_bin_of_halyk_bank() -> None:
    # 940140000385: registered 1994-01, resident legal entity (4), head office (0), serial 00038.
    # 9·1 + 4·2 + 0·3 + 1·4 + 4·5 + 0·6 + 0·7 + 0·8 + 0·9 + 3·10 + 8·11 = 159; 159 mod 11 = 5.
    assert kz_check_digit("94014000038") == 5
    assert is_valid_kz_bin("940140000385")
    assert not is_valid_kz_iin("940140000385")


@pytest.mark.parametrize(
    "bad", ["", "1234567890", "123456789012", "1234567890a", "１２３４５６７８９０１"]
)
def test_check_digit_wants_eleven_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        kz_check_digit(bad)


def iin(first_eleven: str) -> str:
    """Complete eleven digits with their check digit, whatever their layout."""
    check = kz_check_digit(first_eleven)
    assert check is not None
    return f"{first_eleven}{check}"


@pytest.mark.parametrize(
    ("first_eleven", "valid"),
    [
        ("00022950001", True),  # 2000-02-29: a leap day
        ("00022930001", False),  # 1900-02-29: 1900 was not a leap year
        ("79023030272", False),  # 30 February
        ("79130030272", False),  # month 13
        ("79100030272", False),  # day 0
        ("79102800272", False),  # century digit 0
        ("79102870272", False),  # century digit 7
        ("00010110001", True),  # 1800-01-01
    ],
)
def test_iin_date_and_century(first_eleven: str, valid: bool) -> None:
    assert is_valid_kz_iin(iin(first_eleven)) is valid


@pytest.mark.parametrize(
    ("first_eleven", "valid"),
    [
        ("94014000038", True),
        ("94124300001", True),  # December, resident, peasant farm
        ("94005000001", False),  # month 00
        ("94134000001", False),  # month 13
        ("94013000001", False),  # entity type 3
        ("94017000001", False),  # entity type 7
        ("94014400001", False),  # attribute 4
    ],
)
def test_bin_layout(first_eleven: str, valid: bool) -> None:
    assert is_valid_kz_bin(iin(first_eleven)) is valid


def test_wrong_check_digit_and_wrong_shapes_are_invalid() -> None:
    assert not is_valid_kz_iin("791028302729")
    assert not is_valid_kz_bin("940140000386")
    for bad in ["", "79102830272", "7910283027288", "79102830272X", "791028 302728"]:
        assert not is_valid_kz_iin(bad)
        assert not is_valid_kz_bin(bad)
        assert not has_valid_kz_check_digit(bad)


# --- Kazakhstan: generating demo numbers ----------------------------------------


def test_generators_reproduce_the_published_numbers() -> None:
    assert generate_kz_iin(date(1979, 10, 28), female=False, serial=272) == "791028302728"
    assert generate_kz_iin(date(2006, 12, 11), female=True, serial=1) == "061211600012"
    assert generate_kz_bin(date(1994, 1, 1), serial=38) == "940140000385"


def test_generator_steps_past_a_serial_that_is_never_issued() -> None:
    # Serial 0095 has no check digit (see above). For 0096 the eleventh digit has
    # weight 11 ≡ 0, so the first pass is 10 again; the second gives 186 + 2 = 188 ≡ 1.
    assert generate_kz_iin(date(1979, 10, 28), female=False, serial=95) == "791028300961"


def test_generators_reject_what_cannot_be_encoded() -> None:
    with pytest.raises(ValueError):
        generate_kz_iin(date(1799, 12, 31), female=False, serial=1)
    with pytest.raises(ValueError):
        generate_kz_iin(date(2100, 1, 1), female=False, serial=1)
    with pytest.raises(ValueError):
        generate_kz_iin(date(1990, 1, 1), female=False, serial=10_000)
    with pytest.raises(ValueError):
        generate_kz_bin(date(2001, 1, 1), serial=100_000)
    with pytest.raises(ValueError):
        generate_kz_bin(date(2001, 1, 1), serial=1, entity_type=7)


births = st.dates(min_value=date(1800, 1, 1), max_value=date(2099, 12, 31))


@given(birth=births, female=st.booleans(), serial=st.integers(0, 9999))
def test_every_generated_iin_is_valid_and_encodes_the_person(
    birth: date, female: bool, serial: int
) -> None:
    number = generate_kz_iin(birth, female, serial)
    assert is_valid_kz_iin(number)
    assert not has_kz_bin_layout(number)
    assert kz_iin_birth_date(number) == birth
    assert int(number[6]) % 2 == (0 if female else 1)


@given(
    registered=st.dates(min_value=date(1990, 1, 1), max_value=date(2089, 12, 31)),
    serial=st.integers(0, 99_999),
    entity_type=st.sampled_from([4, 5, 6]),
    attribute=st.integers(0, 3),
)
def test_every_generated_bin_is_valid(
    registered: date, serial: int, entity_type: int, attribute: int
) -> None:
    number = generate_kz_bin(registered, serial, entity_type=entity_type, attribute=attribute)
    assert is_valid_kz_bin(number)
    assert kz_iin_birth_date(number) is None
    assert number[:4] == f"{registered:%y%m}"


# --- Kazakhstan: what one mistyped digit does ------------------------------------
#
# "Every single-digit change is caught" is false for this algorithm, in two places:
#  1. The eleventh digit has weight 11 ≡ 0 (mod 11) in the first pass, so when the
#     first pass decides the check digit, changing the eleventh digit changes nothing.
#  2. Any other change moves the first remainder (its weight is 1..10, the change
#     1..9, and 11 is prime), but if exactly one of the two numbers falls back to the
#     second weights, the two check digits can coincide by chance.
# The properties below pin that down exactly: outside those two cases every change
# is caught; case 1 is never caught; case 2 is sometimes caught.


def blind_to_eleventh_digit(number: str, position: int) -> bool:
    return position == 10 and first_pass(number) != 10


def one_side_falls_back(number: str, changed: str) -> bool:
    return (first_pass(number) == 10) != (first_pass(changed) == 10)


kz_numbers = st.one_of(
    st.builds(generate_kz_iin, births, st.booleans(), st.integers(0, 9999)),
    st.builds(
        generate_kz_bin,
        st.dates(min_value=date(1990, 1, 1), max_value=date(2089, 12, 31)),
        st.integers(0, 99_999),
        entity_type=st.sampled_from([4, 5, 6]),
        attribute=st.integers(0, 3),
    ),
)


@given(number=kz_numbers, position=st.integers(0, 11), shift=st.integers(1, 9))
def test_a_changed_digit_is_caught_except_in_the_two_known_blind_spots(
    number: str, position: int, shift: int
) -> None:
    changed = with_digit(number, position, str((int(number[position]) + shift) % 10))
    caught = not has_valid_kz_check_digit(changed)
    if blind_to_eleventh_digit(number, position):
        event("eleventh digit, first pass")
        assert not caught
        assert kz_check_digit(changed[:11]) == kz_check_digit(number[:11])
    elif one_side_falls_back(number, changed):
        event("exactly one side falls back to the second weights")
    else:
        assert caught
    if position == 11:
        assert caught
    if caught:
        assert not is_valid_kz_iin(changed)
        assert not is_valid_kz_bin(changed)


def test_both_blind_spots_happen_in_published_numbers() -> None:
    # 1. 791028302728 with its eleventh digit 2 → 3: the first pass grows by 11,
    #    217 + 11 = 228 ≡ 8, the same check digit, and the date is untouched.
    assert is_valid_kz_iin("791028302738")
    # 2. 061211600012 falls back (first pass 87 ≡ 10, check digit 2 from the second).
    #    Its ninth digit 0 → 4 adds 9·4: 87 + 36 = 123 ≡ 2, which is no fallback and
    #    happens to be 2 as well.
    assert first_pass("061211604012") == 2
    assert is_valid_kz_iin("061211604012")


def test_census_of_every_single_digit_change() -> None:
    # Exhaustive over a spread of real-shaped numbers: counts every outcome so the
    # property above cannot pass by never meeting a blind spot.
    numbers = [
        generate_kz_iin(date(1950 + i, 1 + i % 12, 1 + i % 28), i % 2 == 0, 97 * i)
        for i in range(60)
    ]
    numbers += [generate_kz_bin(date(2000 + i % 40, 1 + i % 12, 1), 1637 * i) for i in range(60)]
    outcomes = {"caught": 0, "eleventh": 0, "fallback_caught": 0, "fallback_missed": 0}
    for number in numbers:
        for position in range(12):
            for digit in "0123456789":
                if digit == number[position]:
                    continue
                changed = with_digit(number, position, digit)
                caught = not has_valid_kz_check_digit(changed)
                if blind_to_eleventh_digit(number, position):
                    assert not caught
                    outcomes["eleventh"] += 1
                elif one_side_falls_back(number, changed):
                    outcomes["fallback_caught" if caught else "fallback_missed"] += 1
                else:
                    assert caught
                    outcomes["caught"] += 1
    assert all(count > 0 for count in outcomes.values()), outcomes


# --- China: resident identity card number -----------------------------------------


def test_gb_11643_sample() -> None:
    # 11010519491231002X, the sample in GB 11643-1999: Chaoyang, Beijing; 1949-12-31; 002.
    # Weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 over 1 1 0 1 0 5 1 9 4 9 1 2 3 1 0 0 2:
    # 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 mod 11 = 2; (12 − 2) mod 11 = 10 → X.
    assert is_valid_cn_resident_id("11010519491231002X")
    assert cn_resident_id_birth_date("11010519491231002X") == date(1949, 12, 31)


def test_python_stdnum_documentation_sample() -> None:
    assert is_valid_cn_resident_id("360426199101010071")


@pytest.mark.parametrize(
    "bad",
    [
        "11010519491231002x",  # lower-case x: callers pass the compact form
        "110105194912310021",  # wrong check character
        "11010519491231002",  # 17 characters
        "1101051949123100X2",  # X before the end
        "110105194902300020",  # 30 February (check character correct)
        "000000194912310027",  # no such division (check character correct)
        "110105 19491231002X",
        "",
    ],
)
def test_invalid_cn_resident_ids(bad: str) -> None:
    assert not is_valid_cn_resident_id(bad)


def test_bad_date_and_area_samples_do_have_the_right_check_character() -> None:
    # So the two cases above fail for their date and area, not their checksum.
    assert has_valid_cn_check_digit("110105194902300020")
    assert has_valid_cn_check_digit("000000194912310027")


def test_division_codes_count_whenever_they_were_in_use() -> None:
    # 320584 was Wujiang city 1992–2012; someone born in 1970 who was numbered there in
    # 1999 holds such a number. python-stdnum's own is_valid() compares the code with the
    # birth year and rejects it; we accept it.
    number = generate_cn_resident_id(date(1970, 5, 17), 31, area="320584")
    assert is_valid_cn_resident_id(number)
    assert not ric.is_valid(number)


def test_unknown_county_in_a_known_province_is_invalid_not_an_error() -> None:
    # python-stdnum 2.2's is_valid() raises KeyError for this one.
    first_seventeen = "32999919800101123"
    number = first_seventeen + ric.calc_check_digit(first_seventeen + "X")
    assert not is_known_cn_area("329999")
    assert not is_valid_cn_resident_id(number)


def test_cn_generator() -> None:
    assert generate_cn_resident_id(date(1949, 12, 31), 2, area="110105") == "11010519491231002X"
    assert generate_cn_resident_id(date(1975, 3, 1), 11).startswith("32050919750301011")
    with pytest.raises(ValueError):
        generate_cn_resident_id(date(1975, 3, 1), 1000)
    with pytest.raises(ValueError):
        generate_cn_resident_id(date(1975, 3, 1), 1, area="000000")


cn_ids = st.builds(
    generate_cn_resident_id,
    st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    st.integers(0, 999),
    st.sampled_from(["320509", "320584", "110105", "360426", "650102"]),
)


@given(number=cn_ids)
def test_every_generated_cn_resident_id_is_valid(number: str) -> None:
    assert is_valid_cn_resident_id(number)
    assert ric.compact(number) == number


@given(number=cn_ids, position=st.integers(0, 17), data=st.data())
def test_any_changed_cn_character_is_caught(
    number: str, position: int, data: st.DataObject
) -> None:
    # ISO 7064 MOD 11-2: every weight 2^k mod 11 is non-zero and 11 is prime, so unlike the
    # KZ scheme a single substitution always changes the check character.
    alphabet = "0123456789X" if position == 17 else "0123456789"
    digit = data.draw(st.sampled_from([c for c in alphabet if c != number[position]]))
    changed = with_digit(number, position, digit)
    assert not has_valid_cn_check_digit(changed)
    assert not is_valid_cn_resident_id(changed)
