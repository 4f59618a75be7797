"""Reward templates and their kinds, shared by the domains that issue rewards (partner rewards in
``bestow.issuance``, vouchers, loyalty points). Importing the package registers every kind,
wherever it is used from (API, CLI, worker): the kinds of other domains register themselves on
import."""

import bestow.loyalty.kind
import bestow.vouchers.kind  # noqa: F401
