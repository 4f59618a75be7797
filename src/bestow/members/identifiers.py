"""Normalisation of member identifiers: emails lower-cased and checked, phones in E.164."""

from __future__ import annotations

import re
import uuid
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bestow.kit.errors import Invalid

# The common shape: an ASCII dot-atom local part (RFC 5322 atext) of at most 64 characters, one
# @-sign and an ASCII host name. email-validator judges such an address as its local part (always
# valid), its domain (a verdict that depends on the domain alone, cached below) and its length.
_PLAIN_EMAIL = re.compile(
    r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@([A-Za-z0-9.-]+)"
)
_LOCAL_MAX = 64
_EMAIL_MAX = 254


def normalise_email(value: str) -> str:
    text = value.strip()
    plain = _PLAIN_EMAIL.fullmatch(text)
    if plain is not None and len(plain[1]) <= _LOCAL_MAX and len(text) <= _EMAIL_MAX:
        domain = _plain_domain(plain[2])
        if domain is False:
            raise Invalid("invalid email", field="email")
        if domain is not None:
            return f"{plain[1]}@{domain}".lower()
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid("invalid email", field="email") from exc
    return checked.normalized.lower()


@lru_cache(maxsize=4096)
def _plain_domain(domain: str) -> str | bool | None:
    """email-validator's verdict on an ASCII host name: its normal form when that is the name
    lower-cased, ``False`` when invalid, ``None`` otherwise (IDNA: the full check decides)."""
    try:
        normal = validate_email(f"a@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return False
    return normal if normal == domain.lower() else None


_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def normalise_phone(value: str, *, strict: bool = True) -> str:
    """A number valid for its country, in E.164.

    ``strict`` (identifiers sent by integrators): only ``+`` and up to 15 digits. Formatted
    numbers ("+1 415-555 0123") are refused, not repaired: the Partner API asks for E.164, and a
    sandbox that silently fixed them would hide the mistake. Not strict (an operator's own member
    data, through the Admin API, the CLI or an import): formatting is accepted and normalised,
    but the leading ``+`` and country code are still required.
    """
    text = value.strip()
    if not (_E164.fullmatch(text) if strict else text.startswith("+")):
        raise Invalid("phone must be in E.164 format, e.g. +14155551234", field="phone")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise Invalid("phone must be in E.164 format, e.g. +14155551234", field="phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise Invalid("phone is not a valid number", field="phone")
    formatted: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return formatted


def check_guid(value: str, *, field: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise Invalid(f"{field} must be a GUID", field=field) from exc
