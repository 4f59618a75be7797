"""The tutorials in ``docs/tutorials/`` run as written: every ``sh`` block of a tutorial, in order,
in bash with ``set -euo pipefail``, against the suite's live server and worker with the demo data
(``bestow demo --json`` through ``.venv/bin/bestow``, as a reader runs it from the repository's
root). Each request uses ``curl --fail-with-body``, so any answer that is not a success fails the
tutorial, and the docs cannot drift from the API."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import servers
from tests.fixtures.deployment import Deployment

pytestmark = pytest.mark.slow

TUTORIALS = Path(__file__).resolve().parents[1] / "docs" / "tutorials"
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
# What each tutorial's last steps print once everything before them worked.
ENDS = {
    "partner.md": re.compile(r"job job_\w+ is revoked"),
    "vouchers.md": re.compile(r'"status":\s*"voided"'),
    "loyalty.md": re.compile(r'"points":\s*-50,\s*"balanceAfter"'),
    "operator.md": re.compile(r'"status":\s*"Cancelled"'),
}


def blocks(name: str) -> list[str]:
    return BLOCK.findall((TUTORIALS / name).read_text())


def test_every_surface_has_a_tutorial_with_request_bodies() -> None:
    assert sorted(p.name for p in TUTORIALS.glob("*.md")) == sorted(ENDS)
    for name in ENDS:
        script = "\n".join(blocks(name))
        assert "curl" in script, name
        assert re.search(r"-d '\{|op POST \S+ '\{", script), f"{name} sends no JSON body"


@pytest.fixture
def reader_root(tmp_path: Path) -> Path:
    """A directory where ``.venv/bin/bestow`` is this suite's ``bestow``, as in a checkout."""
    script = Path(servers.BESTOW[0])
    if not script.exists() or script.name != "bestow":
        pytest.skip(f"no bestow console script beside {sys.executable}")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "bestow").symlink_to(script)
    return tmp_path


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("name", sorted(ENDS))
def test_the_tutorial_runs_as_written(name: str, deployment: Deployment, reader_root: Path) -> None:
    script = "\n".join(blocks(name))
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=reader_root,
        env={**deployment.env, "BASE": deployment.base_url},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = f"--- stdout ---\n{done.stdout[-6000:]}\n--- stderr ---\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"{name} failed:\n{output}\n{deployment.logs()}"
    assert ENDS[name].search(done.stdout), f"{name} did not get to its end:\n{output}"
