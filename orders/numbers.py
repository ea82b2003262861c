"""Order numbers: random, short, unguessable, with a check character (Crockford's base-32 alphabet).

Ten random characters carry 50 bits, so guessing another's order number is hopeless; the check
character (a position-weighted sum mod 32) catches any one mistyped character before a lookup.
"""

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
RANDOM_LENGTH = 10


def _check_character(body: str) -> str:
    total = sum((position + 1) * ALPHABET.index(c) for position, c in enumerate(body))
    return ALPHABET[total % 32]


def new_order_number() -> str:
    """Return a fresh random order number, e.g. `7KQ2M9XD4F-R` (body, dash, check character)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"{body}-{_check_character(body)}"


def is_well_formed(number: str) -> bool:
    """Return whether `number` has the shape of an order number and a matching check character."""
    body, _, check = number.upper().partition("-")
    return (
        len(body) == RANDOM_LENGTH
        and all(character in ALPHABET for character in body)
        and check == _check_character(body)
    )
