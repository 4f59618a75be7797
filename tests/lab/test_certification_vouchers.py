"""The Voucher API's checklist (UNIQREWARDS integration process): each automatic item judged on
a UAT client's real requests (OAuth token, ``/v3`` routes, the voucher page with its PIN), a
conforming session and a violating one, with the request ids of the answers as evidence."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bestow.deps import Runtime
from bestow.lab import catalogue
from bestow.lab.catalogue import PRODUCT
from bestow.lab.certification.checklists import checklist_of
from tests.conftest import ACTOR
from tests.lab.cert_vouchers_helpers import (
    Uat,
    fetch_token,
    issue,
    new_uat,
    open_voucher,
    retrieve,
    rid,
)
from tests.lab.certification_helpers import close_run, evidence_ids, item, open_run, report_of
from tests.lab.helpers import ADMIN
from tests.vouchers.helpers import create, fixed

SURFACE = "vouchers"


@pytest.fixture
async def uat(app_client: httpx.AsyncClient, runtime: Runtime) -> Uat:
    return await new_uat(app_client, runtime)


async def report(http: httpx.AsyncClient, uat: Uat) -> dict[str, Any]:
    return await report_of(http, uat.client_id, SURFACE)


def vouchers_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["vouchers"]
    return found


async def conforming_session(http: httpx.AsyncClient, uat: Uat) -> dict[str, httpx.Response]:
    """What the vendor asks: every product issued (the open one with a face value), statuses
    read, an issuance recovered with its key after its answer was lost, a voucher opened."""
    sent = {kind: await issue(http, uat, kind) for kind in ("fixed", "items", "open")}
    ids = [v["voucher_id"] for response in sent.values() for v in vouchers_of(response)]
    sent["read"] = await retrieve(http, uat, ids)
    assert sent["read"].status_code == 200, sent["read"].text
    key = "6f1f3c2e-8d4b-4a55-9d1e-2b7c1a0e5f10"
    sent["lost"] = await issue(http, uat, "open", key=key, lost=True)
    assert sent["lost"].status_code == 504, sent["lost"].text
    sent["repeat"] = await issue(http, uat, "open", key=key)
    assert sent["repeat"].headers.get("Idempotency-Record"), sent["repeat"].headers
    await open_voucher(http, vouchers_of(sent["repeat"])[0])
    return sent


def test_the_checklist_has_the_vendors_items_and_schedules_a_lost_answer() -> None:
    checklist = checklist_of(SURFACE)
    assert [i.id for i in checklist.items] == [
        "vouchers.demo.sample_vouchers",
        "vouchers.auth.token_reused",
        "vouchers.uat.all_products",
        "vouchers.uat.open_value",
        "vouchers.uat.statuses",
        "vouchers.uat.issue_recovery",
        "vouchers.uat.no_duplicate",
        "vouchers.golive.uat_completed",
        "vouchers.golive.production_tests",
    ]
    [fault] = checklist.faults
    assert (fault.kind, fault.count, fault.route) == ("lost_answer", 1, "POST /v3/products/{code}")


async def test_a_conforming_uat_passes_every_automatic_item(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    sent = await conforming_session(app_client, uat)

    found = await report(app_client, uat)

    automatic = [i for i in found["items"] if i["kind"] == "automatic"]
    assert {i["id"]: i["status"] for i in automatic} == {i["id"]: "pass" for i in automatic}
    assert found["passed"] is False  # the attested item waits for an admin
    recovery = item(found, "vouchers.uat.issue_recovery")
    assert evidence_ids(recovery) == [rid(sent["lost"]), rid(sent["repeat"])]
    assert (
        recovery["detail"]
        == "1 issuance(s) recovered with the Idempotency-Key, 1 after a lost answer"
    )

    attested = await app_client.put(
        f"/admin/clients/{uat.client_id}/certification/attestations/"
        "vouchers.golive.production_tests",
        json={"note": "Production tests planned with the operator"},
        headers=ADMIN,
    )
    assert attested.status_code in (200, 201), attested.text
    assert (await report(app_client, uat))["passed"] is True


async def test_an_empty_window_leaves_every_automatic_item_not_exercised(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    found = await report(app_client, uat)

    for entry in found["items"]:
        if entry["kind"] == "automatic" and entry["id"] != "vouchers.auth.token_reused":
            assert entry["status"] == "not_exercised", entry
    # The token endpoint alone is no Voucher API call either.
    assert item(found, "vouchers.auth.token_reused")["status"] == "not_exercised"


# --- Issuance of all products in the UAT catalogue ----------------------------------------------


async def test_every_product_of_the_catalogue_issued_passes_with_its_issuance(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    sent = {kind: await issue(app_client, uat, kind) for kind in ("fixed", "open", "items")}

    found = item(await report(app_client, uat), "vouchers.uat.all_products")

    assert found["status"] == "pass"
    by_code = {uat.codes[kind]: rid(response) for kind, response in sent.items()}
    assert evidence_ids(found) == [by_code[code] for code in sorted(by_code)]
    assert found["detail"] == "all 3 products issued"


async def test_a_product_never_issued_fails_naming_it(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    await issue(app_client, uat, "fixed")
    await issue(app_client, uat, "open")

    found = item(await report(app_client, uat), "vouchers.uat.all_products")

    assert found["status"] == "fail"
    assert found["detail"] == "1 of 3 products never issued"
    assert [(e["object_type"], e["object_id"]) for e in found["evidence"]] == [
        ("product", uat.codes["items"])
    ]
    assert "GET /v3/products" in found["advice"]


async def test_a_product_issued_by_another_client_does_not_count(
    app_client: httpx.AsyncClient, runtime: Runtime, uat: Uat
) -> None:
    other = await new_uat(app_client, runtime)
    other.codes = uat.codes
    assert (await issue(app_client, other, "items")).status_code == 404  # not its catalogue
    await issue(app_client, uat, "fixed")

    found = item(await report(app_client, uat), "vouchers.uat.all_products")

    assert found["status"] == "fail"
    assert found["detail"] == "2 of 3 products never issued"


async def test_a_product_out_of_stock_is_not_asked_for(
    app_client: httpx.AsyncClient, runtime: Runtime, uat: Uat
) -> None:
    spent = await create(runtime, **fixed(stock=0))
    async with runtime.db.write_session() as session:
        await catalogue.assign(
            session, client_id=uat.client_id, kind=PRODUCT, item_id=spent.code, actor=ACTOR
        )
        await session.commit()
    for kind in ("fixed", "open", "items"):
        await issue(app_client, uat, kind)

    found = item(await report(app_client, uat), "vouchers.uat.all_products")

    assert found["status"] == "pass"
    assert found["detail"] == "all 3 products issued (1 out of stock, not asked for)"


# --- Open-value products with a face value ------------------------------------------------------


async def test_an_open_value_product_issued_with_a_face_value_passes(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    await issue(app_client, uat, "fixed")
    sent = await issue(app_client, uat, "open")

    found = item(await report(app_client, uat), "vouchers.uat.open_value")

    assert found["status"] == "pass"
    assert evidence_ids(found) == [rid(sent)]
    assert "with a face value" in found["evidence"][0]["note"]


async def test_an_open_value_product_sent_without_a_face_value_fails_with_that_request(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    await issue(app_client, uat, "fixed")
    refused = await issue(app_client, uat, "open", body={"quantity": 1})
    assert refused.status_code == 400, refused.text

    found = item(await report(app_client, uat), "vouchers.uat.open_value")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(refused)]
    assert "no face_value" in found["evidence"][0]["note"]
    assert found["detail"] == "1 of 1 open-value products never issued (1 tried and refused)"
    assert "face_value" in found["advice"]


# --- Obtain voucher status ----------------------------------------------------------------------


async def test_vouchers_issued_then_retrieved_pass_with_the_retrieval(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    issued = vouchers_of(await issue(app_client, uat, "fixed", body={"quantity": 2}))
    read = await retrieve(app_client, uat, [v["voucher_id"] for v in issued])
    one = await app_client.get(f"/v3/vouchers/{issued[0]['voucher_id']}", headers=uat.headers)
    assert one.status_code == 200, one.text

    found = item(await report(app_client, uat), "vouchers.uat.statuses")

    assert found["status"] == "pass"
    assert evidence_ids(found) == [rid(read), rid(one)]
    assert found["evidence"][0]["note"] == "status of 2 voucher(s) retrieved"


async def test_vouchers_issued_and_never_retrieved_fail(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    sent = await issue(app_client, uat, "fixed")

    found = item(await report(app_client, uat), "vouchers.uat.statuses")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(sent)]
    assert "GET /v3/vouchers" in found["advice"]


async def test_retrievals_that_all_failed_fail_with_them(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    await issue(app_client, uat, "fixed")
    unknown = await retrieve(app_client, uat, ["00000000-0000-7000-8000-000000000000"])
    assert unknown.status_code == 404, unknown.text

    found = item(await report(app_client, uat), "vouchers.uat.statuses")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(unknown)]
    assert found["detail"] == "none of 1 retrievals answered"


# --- Issue recovery using idempotency -----------------------------------------------------------


async def test_a_lost_answer_repeated_with_its_key_passes_recovery(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    key = "0b6c3f0e-4d1a-4f7e-9a51-3c2d1e0f9a88"
    lost = await issue(app_client, uat, "open", key=key, lost=True)
    assert lost.status_code == 504, lost.text
    repeat = await issue(app_client, uat, "open", key=key)
    assert repeat.status_code == 200 and "Idempotency-Record" in repeat.headers

    found = await report(app_client, uat)

    recovery = item(found, "vouchers.uat.issue_recovery")
    assert recovery["status"] == "pass"
    assert evidence_ids(recovery) == [rid(lost), rid(repeat)]
    assert item(found, "vouchers.uat.no_duplicate")["status"] == "pass"


async def test_a_lost_answer_sent_again_with_a_new_key_fails_recovery_and_duplicates(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    await issue(app_client, uat, "fixed")
    lost = await issue(app_client, uat, "open", lost=True)
    assert lost.status_code == 504, lost.text
    again = await issue(app_client, uat, "open")  # a new key: issued a second time
    assert again.status_code == 200 and "Idempotency-Record" not in again.headers

    found = await report(app_client, uat)

    recovery = item(found, "vouchers.uat.issue_recovery")
    assert recovery["status"] == "fail"
    assert evidence_ids(recovery) == [rid(lost), rid(again)]
    assert recovery["detail"] == "1 of 1 lost answers not recovered with the key"
    duplicate = item(found, "vouchers.uat.no_duplicate")
    assert duplicate["status"] == "fail"
    assert evidence_ids(duplicate) == [rid(again)]
    assert duplicate["detail"] == "1 duplicate issuance(s) after a lost answer"
    assert item(found, "vouchers.golive.uat_completed")["status"] == "fail"


async def test_a_lost_answer_never_repeated_fails_recovery(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    lost = await issue(app_client, uat, "items", lost=True)

    found = item(await report(app_client, uat), "vouchers.uat.issue_recovery")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(lost)]
    assert found["evidence"][0]["note"] == "answer lost; never repeated with its key"


async def test_issuances_without_a_repeat_leave_recovery_not_exercised(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    await issue(app_client, uat, "open")

    found = await report(app_client, uat)

    assert item(found, "vouchers.uat.open_value")["status"] == "pass"
    assert item(found, "vouchers.uat.issue_recovery")["status"] == "not_exercised"
    assert item(found, "vouchers.golive.uat_completed")["status"] == "not_exercised"


async def test_a_run_with_faults_loses_an_answer_and_judges_its_recovery(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    run = await open_run(app_client, uat.client_id, SURFACE, faults=True)
    assert len(run["fault_rule_ids"]) == 1
    key = "2a7d9e31-5c4b-4e0f-8f6a-1b3c5d7e9f02"
    # The scheduled fault drops the connection: httpx's in-process transport asserts that an
    # answer was started, and none was.
    with pytest.raises(AssertionError):
        await issue(app_client, uat, "open", key=key)
    repeat = await issue(app_client, uat, "open", key=key)
    assert "Idempotency-Record" in repeat.headers

    closed = await close_run(app_client, uat.client_id, run["id"])

    recovery = item(closed["report"], "vouchers.uat.issue_recovery")
    assert recovery["status"] == "pass"
    assert recovery["evidence"][0]["note"] == "answer lost (fault lost_answer)"
    assert recovery["evidence"][1]["request_id"] == rid(repeat)


# --- Idempotency-Key on every issuance, no duplicate --------------------------------------------


async def test_every_issuance_with_a_key_passes(app_client: httpx.AsyncClient, uat: Uat) -> None:
    first = await issue(app_client, uat, "fixed")
    last = await issue(app_client, uat, "fixed")

    found = item(await report(app_client, uat), "vouchers.uat.no_duplicate")

    assert found["status"] == "pass"
    assert evidence_ids(found) == [rid(first), rid(last)]


async def test_an_issuance_without_a_key_fails_with_it(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    await issue(app_client, uat, "fixed")
    keyless = await issue(app_client, uat, "fixed", key="")
    assert keyless.status_code == 400, keyless.text

    found = item(await report(app_client, uat), "vouchers.uat.no_duplicate")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(keyless)]
    assert found["detail"] == "1 of 2 issuances without an Idempotency-Key"


# --- Sample vouchers opened ---------------------------------------------------------------------


async def test_a_voucher_opened_with_its_pin_passes(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    issued = vouchers_of(await issue(app_client, uat, "fixed", body={"quantity": 2}))
    await open_voucher(app_client, issued[1])
    await open_voucher(app_client, issued[1])  # opened again: the first time is kept

    found = item(await report(app_client, uat), "vouchers.demo.sample_vouchers")

    assert found["status"] == "pass"
    assert [(e["object_type"], e["object_id"]) for e in found["evidence"]] == [
        ("voucher", issued[1]["voucher_id"])
    ]
    assert found["detail"] == "1 of 2 vouchers issued were opened"


async def test_vouchers_never_opened_fail_even_after_a_wrong_pin(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    [voucher] = vouchers_of(await issue(app_client, uat, "fixed"))
    short = voucher["short_url"].split("/s/", 1)[1]
    wrong = "000000" if voucher["short_url_pin"] != "000000" else "111111"
    refused = await app_client.post(f"/s/{short}", data={"pin": wrong})
    assert refused.status_code == 403

    found = item(await report(app_client, uat), "vouchers.demo.sample_vouchers")

    assert found["status"] == "fail"
    assert [e["object_id"] for e in found["evidence"]] == [voucher["voucher_id"]]
    assert "short_url" in found["advice"]


# --- The token obtained once and reused ---------------------------------------------------------


async def test_one_token_reused_for_every_call_passes(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    uat = await new_uat(app_client, runtime, token=False)
    token = await fetch_token(app_client, uat)
    calls = [await app_client.get("/v3/products", headers=uat.headers) for _ in range(3)]

    found = item(await report(app_client, uat), "vouchers.auth.token_reused")

    assert found["status"] == "pass"
    assert evidence_ids(found) == [rid(token), rid(calls[-1])]
    assert found["detail"] == "1 token(s) for 3 API requests"


async def test_a_token_fetched_before_every_call_fails(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    uat = await new_uat(app_client, runtime, token=False)
    tokens = []
    for _ in range(4):
        tokens.append(await fetch_token(app_client, uat))
        assert (await app_client.get("/v3/products", headers=uat.headers)).status_code == 200

    found = item(await report(app_client, uat), "vouchers.auth.token_reused")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(t) for t in tokens[1:]]
    assert found["detail"].startswith("4 tokens for 4 API requests")


# --- Go-live: UAT completed ---------------------------------------------------------------------


async def test_uat_completed_passes_with_open_value_and_recovery(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    key = "9c8b7a65-4321-4fed-8cba-0987654321ab"
    lost = await issue(app_client, uat, "open", key=key, lost=True)
    repeat = await issue(app_client, uat, "open", key=key)

    found = item(await report(app_client, uat), "vouchers.golive.uat_completed")

    assert found["status"] == "pass"
    assert rid(lost) in evidence_ids(found) and rid(repeat) in evidence_ids(found)


async def test_uat_completed_fails_without_open_value_issuance(
    app_client: httpx.AsyncClient, uat: Uat
) -> None:
    key = "1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    await issue(app_client, uat, "fixed", key=key, lost=True)
    await issue(app_client, uat, "fixed", key=key)
    refused = await issue(app_client, uat, "open", body={"quantity": 1})

    found = item(await report(app_client, uat), "vouchers.golive.uat_completed")

    assert found["status"] == "fail"
    assert found["detail"] == "not passed: open-value issuance"
    assert rid(refused) in evidence_ids(found)


# --- A careless integration -----------------------------------------------------------------------


async def test_a_careless_integration_fails_exactly_the_items_it_violates(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """A token fetched before every call, and a lost answer sent again with a new key: the
    products, statuses and the opened voucher are right all the same."""
    uat = await new_uat(app_client, runtime, token=False)
    await fetch_token(app_client, uat)
    assert (await app_client.get("/v3/products", headers=uat.headers)).status_code == 200
    issued = []
    for kind in ("fixed", "items"):
        await fetch_token(app_client, uat)
        issued += vouchers_of(await issue(app_client, uat, kind))
    await fetch_token(app_client, uat)
    lost = await issue(app_client, uat, "open", lost=True)
    await fetch_token(app_client, uat)
    again = await issue(app_client, uat, "open")  # the retry made a new key
    issued += vouchers_of(again)
    await fetch_token(app_client, uat)
    assert (await retrieve(app_client, uat, [v["voucher_id"] for v in issued])).status_code == 200
    await open_voucher(app_client, issued[0])

    found = await report(app_client, uat)

    statuses = {i["id"]: i["status"] for i in found["items"] if i["kind"] == "automatic"}
    assert statuses == {
        "vouchers.demo.sample_vouchers": "pass",
        "vouchers.auth.token_reused": "fail",
        "vouchers.uat.all_products": "pass",
        "vouchers.uat.open_value": "pass",
        "vouchers.uat.statuses": "pass",
        "vouchers.uat.issue_recovery": "fail",
        "vouchers.uat.no_duplicate": "fail",
        "vouchers.golive.uat_completed": "fail",
    }
    assert evidence_ids(item(found, "vouchers.uat.no_duplicate")) == [rid(again)]
    assert evidence_ids(item(found, "vouchers.uat.issue_recovery")) == [rid(lost), rid(again)]
    assert found["passed"] is False
