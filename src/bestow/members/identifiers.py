"""Normalisation of member identifiers: emails lower-cased and checked, phones in E.164."""

from __future__ import annotations

import uuid

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bestow.kit.errors import Invalid


def normalise_email(value: str) -> str:
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid("invalid email", field="email") from exc
    return checked.normalized.lower()


def normalise_phone(value: str) -> str:
    """E.164 only: a leading ``+`` and a number valid for its country."""
    text = value.strip()
    if not text.startswith("+"):
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
