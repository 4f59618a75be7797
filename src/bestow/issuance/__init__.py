"""Partner rewards: the domain behind the Partner API's campaigns and issuance jobs.

Its rules live here and only here: partner campaigns, their windows and variants
(``campaigns``); accepting an issuance job at once and revoking it on request (``service``);
processing it in the worker, one chunk per transaction (``processor``, ``tasks``); the batch
events (``events``). It builds on two shared packages: ``bestow.campaigns`` (the Campaign every
API shares, its status) and ``bestow.rewards`` (reward templates and the kinds that say what a
reward issues: a voucher, loyalty points, ...). The Partner API (``surfaces.partner``) only calls
it.
"""
