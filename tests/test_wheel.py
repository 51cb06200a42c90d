"""The wheel runs without a checkout: built, installed into a fresh environment, started elsewhere.

The wheel is built from the checkout (`pip wheel`) and installed without its dependencies
into a new virtual environment; the dependencies come from this test's own environment,
appended to the new one's path after its own packages (a path added by a `.pth` line does
not run that directory's `.pth` files, so the checkout's editable install stays out). Every
command runs in a temporary directory, with no GATEWAY_POLICY_DIR: the policies must come
from the wheel.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import MASTER_KEY, REPO


def _run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600,
                          check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    # Built from a private copy of the checkout: setuptools writes `build/` and the egg-info
    # into the source tree, and under xdist each worker that runs a test of this module builds
    # at the same time ("File exists: build/bdist.../consent_gateway-0.1.0.dist-info").
    source = root / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "var", ".cache", ".hypothesis", "*.egg-info", "__pycache__",
        ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules", "results"))
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", root / "dist", source)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((root / "dist").glob("consent_gateway-*.whl"))
    env_dir = root / "venv"
    assert _run(sys.executable, "-m", "venv", "--without-pip", env_dir).returncode == 0
    installed = _run(sys.executable, "-m", "pip", "--python", env_dir / "bin" / "python",
                     "install", "--no-deps", "-q", wheel)
    assert installed.returncode == 0, installed.stderr[-2000:]
    site = next(env_dir.glob("lib/python*/site-packages"))
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "zz_test_dependencies.pth").write_text("\n".join(deps) + "\n")
    return env_dir


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("GATEWAY_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    clean.update(GATEWAY_DATABASE_URL=f"sqlite:///{tmp_path}/gateway.db",
                 GATEWAY_MASTER_KEY=MASTER_KEY)
    return clean


def test_the_installed_package_is_the_wheel_and_its_policies_are_shipped(
        venv: Path, env: dict[str, str], tmp_path: Path) -> None:
    # when
    found = _run(venv / "bin" / "python", "-c",
                 "import gateway; from gateway.config import Settings; "
                 "print(gateway.__file__); print(Settings().policy_dir)", cwd=tmp_path, env=env)

    # then: the package comes from the new environment, the policies from its share/
    assert found.returncode == 0, found.stderr
    module, policies = found.stdout.split()
    assert Path(module).is_relative_to(venv) and not Path(module).is_relative_to(REPO)
    assert Path(policies) == venv / "share" / "consent-gateway" / "policies"
    assert {"model.conf", "policy.csv", "purposes.yaml", "limits.yaml"} <= {
        p.name for p in Path(policies).iterdir()}


def test_help_and_db_upgrade_run_without_a_checkout(
        venv: Path, env: dict[str, str], tmp_path: Path) -> None:
    # when
    helped = _run(venv / "bin" / "consent-gateway", "--help", cwd=tmp_path, env=env)
    upgraded = _run(venv / "bin" / "consent-gateway", "db", "upgrade", cwd=tmp_path, env=env)

    # then
    assert helped.returncode == 0 and "GATEWAY_POLICY_DIR" in helped.stdout
    assert upgraded.returncode == 0, upgraded.stderr[-2000:]
    assert (tmp_path / "gateway.db").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(venv: Path, env: dict[str, str], tmp_path: Path) -> Iterator[int]:
    port = _free_port()
    assert _run(venv / "bin" / "consent-gateway", "db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen([str(venv / "bin" / "consent-gateway"), "serve", "--port", str(port)],
                                  cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield port
        finally:
            server.terminate()
            server.wait(timeout=60)


def test_serve_is_ready_without_a_checkout(served: int, tmp_path: Path) -> None:
    # when: the server answers its readiness probe (start-up takes seconds on a busy machine)
    status, body = 0, b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{served}/readyz", timeout=5) as answer:
                status, body = answer.status, answer.read()
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)

    # then: policy loaded from the wheel, database migrated, keys loaded
    assert status == 200, (tmp_path / "serve.log").read_text()[-3000:]
    assert b'"policy":"ok"' in body and b'"migrations":"ok"' in body


def test_a_policy_dir_without_the_files_names_the_variable(
        venv: Path, env: dict[str, str], tmp_path: Path) -> None:
    # given
    empty = tmp_path / "policies"
    empty.mkdir()

    # when
    result = _run(venv / "bin" / "consent-gateway", "serve", "--port", str(_free_port()),
                  cwd=tmp_path, env={**env, "GATEWAY_POLICY_DIR": str(empty)})

    # then: it stops at once and says what to set
    assert result.returncode != 0
    assert "set GATEWAY_POLICY_DIR" in result.stderr + result.stdout
    assert "model.conf" in result.stderr + result.stdout
