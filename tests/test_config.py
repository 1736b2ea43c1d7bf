from pathlib import Path

import pytest

from monitor.config import AdminConfig, ConfigError, load_config


def test_defaults_send_to_console_and_archive() -> None:
    config = AdminConfig()
    assert config.routes.default == ["console", "archive"]
    assert config.destinations["archive"].path == Path("alerts.jsonl")


def test_paths_in_a_config_file_are_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_text("inbox: in\nstate_dir: /var/lib/newsmon\n")
    config = load_config(tmp_path / "monitor.yaml")
    assert config.inbox == tmp_path / "in"
    assert config.state_dir == Path("/var/lib/newsmon")


def test_route_to_unknown_destination_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text("routes: {default: [nowhere]}\n")
    with pytest.raises(ConfigError, match=r"monitor\.yaml: .*unknown destinations: nowhere"):
        load_config(path)


def test_invalid_config_error_never_echoes_secret_values(tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text(
        "destinations:\n  hook: {type: webhook, url: 'https://hooks.example/T0/SECRET', bogus: 1}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "SECRET" not in str(info.value)
    assert "bogus" in str(info.value)


def test_invalid_yaml_is_located_without_quoting_the_line(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text(
        "destinations:\n  slack: {type: slack, url: https://hooks.slack.com/services/T0/B0/SECRETTOKEN}}\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert "line 2" in str(raised.value)
    assert "SECRETTOKEN" not in str(raised.value)
