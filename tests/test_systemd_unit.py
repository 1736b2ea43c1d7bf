"""The shipped systemd unit, environment file and example admin config, checked the way systemd reads them.

PID 1 on a test machine is rarely systemd, so the unit cannot be started here; ``systemd-analyze`` checks it
offline (syntax, unknown keys, executables) and scores its hardening. The flags and config the unit hands
to ``newsmon run`` are fed to the real command-line parser and config loader.
"""

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import load_config

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
UNIT = DEPLOY / "newsmon.service"
ENV_FILE = DEPLOY / "newsmon.env"
EXAMPLE_CONFIG = DEPLOY / "monitor.example.yaml"
INSTALLED_EXECUTABLE = "/opt/newsmon/venv/bin/newsmon"
MAX_EXPOSURE = 2.0

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze not installed")


def unit_settings(text: str) -> dict[str, list[str]]:
    """``Key=value`` lines by key (keys may repeat), comments and section headers left out."""
    settings: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def env_file(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )


@pytest.fixture(scope="module")
def settings() -> dict[str, list[str]]:
    return unit_settings(UNIT.read_text(encoding="utf-8"))


@needs_systemd_analyze
def test_verify_accepts_the_unit_without_a_single_warning(tmp_path: Path) -> None:
    """``verify`` exits 0 even on unknown keys, so any output at all counts as a failure.

    The unit names the installed executable, which does not exist on a test machine; the copy checked here
    points at this checkout's entry point instead, and is otherwise the shipped unit byte for byte.
    """
    executable = REPO / ".venv" / "bin" / "newsmon"
    if not executable.exists():
        executable = Path(shutil.which("newsmon") or "/bin/true")
    copy = tmp_path / "newsmon.service"
    text = UNIT.read_text(encoding="utf-8")
    assert INSTALLED_EXECUTABLE in text
    copy.write_text(text.replace(INSTALLED_EXECUTABLE, str(executable)), encoding="utf-8")
    assert SYSTEMD_ANALYZE is not None
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
    assert result.stdout.strip() == ""


def measured_exposure() -> str:
    """``systemd-analyze security``'s overall exposure level of the shipped unit, as it prints it."""
    assert SYSTEMD_ANALYZE is not None
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    match = re.search(r"Overall exposure level for newsmon\.service: (\d+\.\d)", result.stdout)
    assert match, result.stdout + result.stderr
    return match.group(1)


@needs_systemd_analyze
def test_security_exposure_is_at_most_two() -> None:
    assert SYSTEMD_ANALYZE is not None
    assert float(measured_exposure()) <= MAX_EXPOSURE
    # --threshold is on a 0-100 scale: exit status non-zero above it.
    threshold = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", f"--threshold={int(MAX_EXPOSURE * 10)}", str(UNIT)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert threshold.returncode == 0


@needs_systemd_analyze
def test_documented_score_matches_the_measured_one() -> None:
    docs = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    assert f"exposure level {measured_exposure()}" in docs


def test_unit_is_a_watched_notify_service(settings: dict[str, list[str]]) -> None:
    assert settings["Type"] == ["notify"]
    assert settings["NotifyAccess"] == ["main"]
    assert int(settings["WatchdogSec"][0]) >= 10
    assert settings["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert settings["Restart"] == ["on-failure"]
    assert settings["RestartPreventExitStatus"] == ["2"]  # invalid rules or config: restarting cannot help
    # The daemon's own stop grace for deliveries (10 s) plus the article under analysis fit well within it.
    assert int(settings["TimeoutStopSec"][0]) >= 30
    assert settings["StateDirectory"] == ["newsmon"]
    assert settings["LoadCredential"] == ["newsmon:/etc/newsmon/credentials"]
    assert settings["User"] == ["newsmon"]


def test_unit_hardening_settings(settings: dict[str, list[str]]) -> None:
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "MemoryDenyWriteExecute": "yes",
    }
    for key, value in expected.items():
        assert settings[key] == [value], key
    assert "@system-service" in settings["SystemCallFilter"]


def test_example_config_agrees_with_the_unit(
    settings: dict[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inbox writable, state where systemd creates it, and every credential named the way systemd names it."""
    config = load_config(EXAMPLE_CONFIG)
    assert settings["ReadWritePaths"] == [str(config.inbox)]
    assert config.state_dir == Path("/var/lib") / settings["StateDirectory"][0]
    assert config.metrics.host == "127.0.0.1"
    credential_id, _, folder = settings["LoadCredential"][0].partition(":")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    files = [
        d.url_file or d.secret_file
        for d in config.destinations.values()
        if d.url_file is not None or d.secret_file is not None
    ]
    assert files, "the example should show credentials files"
    for destination in config.destinations.values():
        for reference in (destination.url_file, destination.secret_file):
            if reference is None:
                continue
            assert reference.name.startswith(credential_id + "_")
            (tmp_path / reference).write_text(f"https://example.invalid/{reference.name}\n", encoding="utf-8")
        if destination.url_file is not None:
            url = destination.resolve_url()
            assert url is not None and url.get_secret_value().endswith(destination.url_file.name)
    assert folder == "/etc/newsmon/credentials"


def test_exec_start_and_environment_file_parse_with_the_real_cli(settings: dict[str, list[str]]) -> None:
    """What systemd would run, with ``$NEWSMON_ARGS`` split as systemd splits an unbraced variable."""
    environment = env_file(ENV_FILE.read_text(encoding="utf-8"))
    assert "NEWSMON_ARGS" in environment
    (exec_start,) = settings["ExecStart"]
    argv = shlex.split(exec_start)
    assert argv[0] == INSTALLED_EXECUTABLE
    expanded: list[str] = []
    for word in argv[1:]:
        expanded.extend(environment["NEWSMON_ARGS"].split() if word == "$NEWSMON_ARGS" else [word])
    # --help stops before any file is opened, but only after every option before it has been parsed.
    result = CliRunner().invoke(main, [*expanded, "--help"])
    assert result.exit_code == 0, result.output
    assert "Run the daemon" in result.output
    bogus = CliRunner().invoke(main, [*expanded, "--no-such-flag", "--help"])
    assert bogus.exit_code != 0
