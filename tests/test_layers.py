"""The import layers of pyproject.toml hold, and ``make lint`` refuses a change that breaks them.

import-linter runs on a copy of the package tree with one import injected that breaks a layer,
and must fail naming the contract and the import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bestow import domains

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
LAYERS = "Layers: front ends -> views -> domains -> models -> kit"
CLI_BESIDE_SURFACES = "The CLI is a front end beside the surfaces, not on them"
SDK = "The SDK imports nothing of the server"


def contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return found


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` as ``make lint`` runs it, on the packages under ``root``."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root / "sdk" / "src")]),
    }
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def copy_of_the_tree(to: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "src" / "bestow", to / "src" / "bestow", ignore=ignore)
    shutil.copytree(
        ROOT / "sdk" / "src" / "bestow_client", to / "sdk" / "src" / "bestow_client", ignore=ignore
    )
    shutil.copy(ROOT / "pyproject.toml", to / "pyproject.toml")
    return to


def test_every_domain_package_is_in_the_domain_layer() -> None:
    (layers,) = [c for c in contracts() if c["id"] == "layers"]
    layer_list = layers["layers"]
    assert isinstance(layer_list, list)
    (domain_layer,) = [layer for layer in layer_list if "bestow.vouchers" in layer]
    declared = {name.strip() for name in domain_layer.replace("|", ":").split(":")}
    assert set(domains.packages()) <= declared


@pytest.mark.slow
def test_the_real_tree_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("module", "line", "contract", "refusal"),
    [
        (
            "src/bestow/kit/injected.py",
            "from bestow.vouchers import lookup",
            LAYERS,
            "bestow.kit is not allowed to import bestow.vouchers",
        ),
        (
            "src/bestow/loyalty/injected.py",
            "from bestow.surfaces.loyalty import errors",
            LAYERS,
            "bestow.loyalty is not allowed to import bestow.surfaces",
        ),
        (
            "src/bestow/models/injected.py",
            "from bestow.clients import service",
            LAYERS,
            "bestow.models is not allowed to import bestow.clients",
        ),
        (
            "src/bestow/cli/injected.py",
            "from bestow.surfaces.partner import errors",
            CLI_BESIDE_SURFACES,
            "bestow.cli is not allowed to import bestow.surfaces",
        ),
        (
            "sdk/src/bestow_client/injected.py",
            "import bestow.config",
            SDK,
            "bestow_client is not allowed to import bestow",
        ),
    ],
    ids=["kit-imports-domain", "domain-imports-surface", "model-imports-domain", "cli", "sdk"],
)
def test_an_import_across_a_layer_fails_naming_its_contract(
    tmp_path: Path, module: str, line: str, contract: str, refusal: str
) -> None:
    tree = copy_of_the_tree(tmp_path)
    (tree / module).write_text(f"{line}\n")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract} BROKEN" in result.stdout
    assert refusal in result.stdout
    injected = module.removeprefix("sdk/").removeprefix("src/").removesuffix(".py")
    assert injected.replace("/", ".") in result.stdout
