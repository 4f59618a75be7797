"""``make run``'s intro: the Partner API commands it prints run as printed, in bash, against a live
server and worker with the demo data, and do the API's main job: a campaign with a treatment and a
Control, rewards issued under an idempotency key, the job polled, the job revoked."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.fixtures.deployment import Deployment, bestow

pytestmark = pytest.mark.slow

POLL = """for i in $(seq 120); do
  [ "$(curl "${P[@]}" "$B/issuance_jobs/$JOB_ID?merchant_id=$M" | j issuance_job state)" \\
    = completed ] && break; sleep 0.5
done
"""


def partner_block(intro: str) -> list[str]:
    """The Partner API's commands as printed: from its heading to the next blank line."""
    lines = intro.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Partner API ("))
    block = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        assert line.startswith("  "), f"not indented as the intro's commands: {line!r}"
        block.append(line[2:])
    return block


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_intros_partner_commands_run_as_printed(deployment: Deployment) -> None:
    intro = bestow(deployment.env, "demo", "--print-intro")
    block = partner_block(intro)
    merchant = deployment.demo["partner"]["merchant_id"]
    script = []
    for line in block:
        if line.startswith("# poll"):
            # The reader polls by hand; the test waits for the worker the same way.
            script.append(f"M={merchant}\n{POLL}")
        script.append(line)
        if line.startswith("# poll"):
            script.append('echo "=== job"')
        if line.startswith("# a campaign"):
            script.append('echo "=== campaign"')
        if line.startswith("# rewards"):
            script.append('echo "=== issue"')
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{deployment.logs()}"
    out = done.stdout
    campaign = json.loads(out.split("=== campaign\n")[1].splitlines()[0])["campaign"]
    assert [v["name"] for v in campaign["variants"]] == ["Free slice", "Control"]
    assert campaign["variants"][1]["reward_template_id"] is None
    issued = json.loads(out.split("=== issue\n")[1].splitlines()[0])["issuance_job"]
    assert (issued["state"], issued["total_count"]) == ("pending", 3)
    after = out.split("=== job\n")[1].splitlines()
    polled, revoked = (json.loads(line)["issuance_job"] for line in after[:2])
    assert polled["id"] == revoked["id"] == issued["id"]
    assert polled["state"] == "completed"
    assert polled["summary"] == {"success_count": 3, "failure_count": 0}
    assert revoked["state"] == "revoking"
