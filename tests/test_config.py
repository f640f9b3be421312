"""The operator's configuration (AppConfig): samldebug.toml in the instance folder, overridden by SAMLDEBUG_*
variables, read the same way by the CLI and the web page."""

from __future__ import annotations

from pathlib import Path

import pytest

from samldebug.config import AppConfig


def test_the_environment_wins_over_the_file_and_every_field_has_its_variable() -> None:
    env = {"SAMLDEBUG_DEFAULT_SKEW": "42", "SAMLDEBUG_AUTH": "proxy", "SAMLDEBUG_METADATA_ALLOW_HTTP": "on"}
    config = AppConfig.load(env, {"default_skew": 77, "rate_limit_share": "5/minute", "not_a_field": 1})
    assert (config.default_skew, config.auth, config.metadata_allow_http) == (42, "proxy", True)
    assert config.rate_limit_share == "5/minute"  # from the file: no variable for it
    # Every field is read from its own SAMLDEBUG_<NAME> (the README documents them so).
    for name, value in {"graph_cloud": "usgov", "audit_log": "-", "oidc_scope": "openid"}.items():
        assert getattr(AppConfig.load({f"SAMLDEBUG_{name.upper()}": value}), name) == value


def test_only_the_exact_prefix_counts() -> None:
    env = {
        "samldebug_default_skew": "1",
        "XSAMLDEBUG_DEFAULT_SKEW": "2",
        "SAMLDEBUG_DEFAULT_SKEWED": "3",
        "PATH": "/bin",
    }
    assert AppConfig.load(env).default_skew == 180


def test_bad_values_name_their_variable() -> None:
    with pytest.raises(ValueError, match="^SAMLDEBUG_DEFAULT_SKEW: Expected `int`, got `str`"):
        AppConfig.load({"SAMLDEBUG_DEFAULT_SKEW": "lots"})
    with pytest.raises(ValueError, match="^SAMLDEBUG_METADATA_ALLOW_HTTP: "):
        AppConfig.load({"SAMLDEBUG_METADATA_ALLOW_HTTP": "maybe"})
    # Set but empty still counts as set (and is not a number).
    with pytest.raises(ValueError, match="^SAMLDEBUG_DEFAULT_SKEW: "):
        AppConfig.load({"SAMLDEBUG_DEFAULT_SKEW": ""}, {"default_skew": 77})


def test_instance_folder_from_the_environment_resolved_through_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "samldebug.toml").write_text('default_skew = 61\nmetadata_allow_http = "yes"\n')
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    config, folder = AppConfig.from_instance({"SAMLDEBUG_INSTANCE_PATH": str(tmp_path / "link")}, "ignored")
    assert folder == real.resolve() and folder.is_absolute()
    assert (config.default_skew, config.metadata_allow_http) == (61, True)
    assert config.profiles_path(folder) == str(real.resolve() / "profiles.toml")


def test_instance_folder_argument_relative_and_absent_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config, folder = AppConfig.from_instance({}, "inst")
    assert folder == tmp_path.resolve() / "inst" and config == AppConfig()
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "samldebug.toml").write_text('default_skew = "x"\n')
    with pytest.raises(ValueError, match="^SAMLDEBUG_DEFAULT_SKEW: "):
        AppConfig.from_instance({})


def test_from_environment_reads_os_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SAMLDEBUG_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SAMLDEBUG_MAX_XML_BYTES", "4096")
    config, folder = AppConfig.from_environment()
    assert config.max_xml_bytes == 4096 and folder == tmp_path.resolve()


def test_small_and_large_environments_read_alike() -> None:
    """A small environment is scanned once for the prefix, a large one looked up per name: the same result."""
    given = {"SAMLDEBUG_DEFAULT_SKEW": "9", "SAMLDEBUG_AUTH_PERMALINKS": "yes", "SAMLDEBUG_INSTANCE_PATH": "/x"}
    large = given | {f"OTHER_{i}": str(i) for i in range(1000)}
    assert AppConfig.load(given) == AppConfig.load(large) == AppConfig.load(given | {"OTHER": "1"})
    assert AppConfig.load(large).default_skew == 9 and AppConfig.load(large).auth_permalinks
    with pytest.raises(ValueError, match="^SAMLDEBUG_DEFAULT_SKEW: "):
        AppConfig.load(large | {"SAMLDEBUG_DEFAULT_SKEW": "x"})
