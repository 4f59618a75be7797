"""Identifier normalisation: emails checked and lower-cased, phones strictly E.164."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email

from bestow.kit.errors import Invalid
from bestow.members.identifiers import normalise_email, normalise_phone


@pytest.mark.parametrize("phone", ["+14155550123", " +14155550123 ", "+12125550100"])
def test_an_e164_number_is_kept(phone: str) -> None:
    assert normalise_phone(phone) == phone.strip()


@pytest.mark.parametrize(
    "phone",
    [
        "4155550123",
        "+1 415 555 0123",
        "+1-415-555-0123",
        "+1(415)5550123",
        "+01415555012",
        "+1415555012345678",
        "+",
        "",
        "+1415555O123",
    ],
)
def test_anything_but_e164_is_refused(phone: str) -> None:
    with pytest.raises(Invalid):
        normalise_phone(phone)


@pytest.mark.parametrize("phone", ["+1 415 555 0123", "+1-415-555-0123", "+1 (415) 555-0123"])
def test_member_data_may_be_formatted_but_is_stored_in_e164(phone: str) -> None:
    assert normalise_phone(phone, strict=False) == "+14155550123"


def test_member_data_still_needs_the_country_code() -> None:
    with pytest.raises(Invalid):
        normalise_phone("415 555 0123", strict=False)


def test_a_well_formed_number_that_no_country_uses_is_refused() -> None:
    with pytest.raises(Invalid, match="not a valid number"):
        normalise_phone("+19995550123")


@pytest.mark.parametrize(
    "email",
    [
        "Member.One@Example.COM",
        "a+tag@sub.example.org",
        "x@example.co.uk",
        "o'hara@example.ie",
        "user@bücher.example",
    ],
)
def test_email_normalisation_agrees_with_email_validator(email: str) -> None:
    expected = validate_email(email, check_deliverability=False).normalized.lower()
    assert normalise_email(email) == expected


@pytest.mark.parametrize(
    "email",
    [
        "no-at-sign",
        "two@@example.com",
        "a@b",
        "a@-example.com",
        "a@example..com",
        "",
    ],
)
def test_an_invalid_email_is_refused_as_email_validator_refuses_it(email: str) -> None:
    with pytest.raises(EmailNotValidError):
        validate_email(email, check_deliverability=False)
    with pytest.raises(Invalid):
        normalise_email(email)
