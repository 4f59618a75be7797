"""Certification: each surface's checklist judged from a client's own traffic (the request
log) and data, with evidence, in seconds (``docs/certification.md``).

- ``core``: items, checklists, outcomes and evidence;
- ``context``: what a judge reads (the window's requests, the session);
- ``partner``, ``vouchers``, ``loyalty``, ``operator``: each surface's checklist and judges,
  with what they share in ``judging``;
- ``engine``: judging a window into a report; ``runs``: certification runs and attestations;
- ``render``: the report as a summary line, Markdown or an HTML page.
"""
