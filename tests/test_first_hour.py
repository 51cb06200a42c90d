"""The first hour of a new user: a taken demo port, a wheel without a checkout's policies."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.config import PolicyDirError, Settings, require_policy_dir
from tests.harness import MASTER_KEY, REPO


def test_demo_setup_says_the_port_is_taken_before_changing_anything(tmp_path: Path) -> None:
    # given: something listens on the demo's port
    database = tmp_path / "demo.db"
    env = {"GATEWAY_DATABASE_URL": f"sqlite:///{database}", "GATEWAY_MASTER_KEY": MASTER_KEY,
           "GATEWAY_POLICY_DIR": str(REPO / "policies")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        # when
        result = CliRunner().invoke(main, ["demo", "setup", "--port", str(port)], env=env)

    # then: no migration, no seed, no key issued (so none revoked)
    assert result.exit_code == 1
    assert f"port {port} is taken" in result.output
    assert f"make demo PORT={port + 1}" in result.output
    assert not database.exists()


def test_a_missing_policy_dir_names_the_variable(tmp_path: Path) -> None:
    # when
    with pytest.raises(PolicyDirError) as raised:
        require_policy_dir(tmp_path)

    # then
    assert "set GATEWAY_POLICY_DIR" in str(raised.value)
    assert "model.conf" in str(raised.value)


def test_the_checkout_policies_are_the_default_here() -> None:
    assert require_policy_dir(Settings().policy_dir) == REPO / "policies"


def test_the_wheel_ships_the_default_policies() -> None:
    # given: what pyproject.toml installs next to the package
    text = (REPO / "pyproject.toml").read_text()

    # then: every file the gateway needs is matched by a data-files pattern
    assert '"share/consent-gateway/policies" = ["policies/*.conf", "policies/*.csv", ' \
        '"policies/*.yaml"]' in text


def test_the_container_lock_pins_every_runtime_dependency() -> None:
    # given
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (REPO / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }

    # then
    for requirement in project["dependencies"]:
        name = requirement.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip()
        assert name.lower().replace("_", "-") in pinned, name
