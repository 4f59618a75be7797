"""Loyalty points: the domain behind the Loyalty API and the points parts of the Admin API and
the CLI.

Its rules live here and only here: the append-only points ledger and balances (``ledger``); the
Loyalty API's sessions (``sessions``), ad hoc awards and deductions (``adhoc``), transaction
history (``history``) and account search (``links``); a programme's ad hoc reward definitions
and a client's ad hoc feature (``rewards``); the ``points`` template kind, through which partner
campaigns credit points (``kind``). The Loyalty API (``surfaces.loyalty``), the Admin API and the
CLI (with ``views.loyalty``) only call it.
"""
