"""``bestow templates``: one field per line by default, the template as JSON with ``--json``,
like the other administration commands. On each test database."""

from __future__ import annotations

from tests.cli.helpers import Invoke, new_merchant, ok


def test_templates_create_prints_fields_or_json_with_the_json_option(cli: Invoke) -> None:
    merchant = new_merchant(cli)
    args = ("templates", "create", merchant["id"], "--name", "Five off")
    discount = ("--discount-type", "amount", "--discount-value", "500")

    plain = cli(*args, *discount)
    as_json = ok(cli(*args, *discount, "--publish", "--json"))

    assert plain.exit_code == 0, plain.output
    fields = dict(line.split(None, 1) for line in plain.stdout.splitlines())
    assert (fields["name"], fields["state"], fields["subtype"]) == ("Five off", "draft", "amount")
    assert fields["id"].startswith("rtp_")
    assert (as_json["state"], as_json["discount"]) == (
        "published",
        {"type": "amount", "value": 500},
    )

    unpublished = ok(cli("templates", "unpublish", as_json["id"], "--json"))
    listed = ok(cli("templates", "list", merchant["id"], "--json"))
    table = cli("templates", "list", merchant["id"]).stdout.splitlines()

    assert unpublished["state"] == "unpublished"
    assert sorted(t["id"] for t in listed) == sorted([fields["id"], as_json["id"]])
    assert table[0].split() == ["id", "name", "kind", "state", "type", "subtype"]
    assert len(table) == 3  # a header and one line per template
