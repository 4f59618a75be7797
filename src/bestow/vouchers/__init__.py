"""Digital vouchers and gift cards (the Voucher API, UNIQREWARDS v3): catalogue and vouchers.

One module per concern:

* ``products``: the catalogue that vouchers are issued from;
* ``issuing``: issuing vouchers from a product once per idempotency key (and the rows a campaign
  issues through ``kind``), with their name, value, expiry and stock;
* ``status``: what a voucher reports, in Python (``status_of``, ``merchant_status``) and, side by
  side, the same rule as a SQL condition (``status_is``);
* ``lookup``: finding vouchers: by code, by id for their client, in pages for operators;
* ``redemption``: the merchant's and the operator's side: redeem and void (audited for operators);
* ``links``: the recipient's short link and its PIN;
* ``expiry``: the sweep that stores ``expired`` on vouchers past their expiry;
* ``usage``: the monthly usage report that bills issued vouchers;
* ``events``: the voucher event types and what they carry;
* ``errors``: the domain errors of vouchers (kinds of ``bestow.kit.errors.DomainError``);
* ``codes``: voucher codes, short codes and PINs; ``kind``: the ``voucher`` reward kind.

No function here commits: the caller owns the transaction (``bestow.deps``).
"""
