"""The values the kernel-wide settings take, and the one-line error for any other:
a store location is a directory or a URL of a served scheme (``ftp://`` is an error,
never a folder named ``ftp:``), and ``max_memory`` is bytes, a size with a unit, a
share of RAM, or "" for no bound, set with ``%config``, a profile's config or in
plain Python.  Real InteractiveShell; real directory store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Notes, Tally, run_cell
from persist_support import persisted_double, warnings

from ipycache_ext.config import SETTINGS
from ipycache_ext.errors import SettingError
from ipycache_ext.store.sizes import memory_budget

# ----- the store location -------------------------------------------------------------------


@pytest.mark.parametrize("location", ["ftp://x/y", "http://example.com/cache", "dir|ftp://x/y"])
def test_a_store_url_of_an_unknown_scheme_is_an_error_naming_the_supported_ones(
    ip: Any, caplog: pytest.LogCaptureFixture, location: str
) -> None:
    run_cell(ip, f"%config MemoMagics.store = {location!r}")  # %config logs the error
    assert "no store is served over" in caplog.text
    assert all(f"{scheme}://" in caplog.text for scheme in ("redis", "s3"))
    assert SETTINGS.store is None


def test_the_store_takes_directories_and_served_urls_and_refuses_other_schemes(
    ip: Any, caplog: pytest.LogCaptureFixture
) -> None:
    accepted = [
        "C:\\Users\\me\\cache",
        "C:/Users/me/cache",
        "~/cache",
        "data/cache",
        "/var/cache/notebooks",
        "redis://127.0.0.1:6379/0",
        "REDIS://127.0.0.1:6379/0",
        "s3://bucket/prefix",
        "~/cache|s3://bucket/prefix",
    ]
    for location in accepted:
        run_cell(ip, f"%config MemoMagics.store = {location!r}")
        assert SETTINGS.store == location
    run_cell(ip, "%config MemoMagics.store = 'sftp://host/cache'")
    assert SETTINGS.store == accepted[-1]
    assert "no store is served over sftp://" in caplog.text


def test_a_store_url_of_an_unknown_scheme_set_in_python_warns_and_makes_no_folder(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, notes: Notes, tally: Tally
) -> None:
    monkeypatch.chdir(tmp_path)
    SETTINGS.store = "ftp://x/y"
    double = persisted_double(tally)

    assert (double(1), double(1)) == (2, 2)
    [warning] = [w for w in warnings(notes) if "persistent cache" in w]
    assert "no store is served over ftp://" in warning and "redis://" in warning
    assert not (tmp_path / "ftp:").exists()


# ----- max_memory ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "budget"),
    [
        ("1000", 1000),
        ('"1GB"', 10**9),
        ('"1 gb"', 10**9),
        ('"512 MiB"', 512 << 20),
        ('"1.5GiB"', 3 << 29),
        ("2e9", 2 * 10**9),
        ("0", None),
    ],
)
def test_max_memory_takes_bytes_sizes_with_units_or_no_bound(
    ip: Any, caplog: pytest.LogCaptureFixture, value: str, budget: int | None
) -> None:
    assert run_cell(ip, f"%config MemoMagics.max_memory = {value}").error is None
    assert caplog.text == ""
    assert memory_budget() == budget


@pytest.mark.parametrize("value", ['"lots"', '"1 XB"', "-5", '"150%"', '"-1GB"', "True"])
def test_a_max_memory_that_is_no_size_is_one_error_and_keeps_the_setting(
    ip: Any, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    run_cell(ip, '%config MemoMagics.max_memory = "1GB"')
    run_cell(ip, f"%config MemoMagics.max_memory = {value}")
    [error] = caplog.records
    assert "is not a memory size. Fix:" in error.getMessage()
    assert "\n" not in error.getMessage()
    assert SETTINGS.max_memory == "1GB"


def test_max_memory_in_a_profile_config_takes_an_int(bare_shell: Any) -> None:
    bare_shell.config.MemoMagics.max_memory = 1000
    bare_shell.run_line_magic("load_ext", "ipycache_ext")
    assert memory_budget() == 1000


def test_max_memory_set_in_python_takes_a_size_and_refuses_anything_else() -> None:
    SETTINGS.max_memory = "512 MiB"
    assert memory_budget() == 512 << 20
    with pytest.raises(SettingError, match="'lots' is not a memory size"):
        SETTINGS.max_memory = "lots"
    assert memory_budget() == 512 << 20


# ----- one declaration per setting -------------------------------------------------------------


def test_config_help_shows_each_settings_declared_help_and_environment_variables(ip: Any) -> None:
    from ipycache_ext import config

    shown = " ".join(run_cell(ip, "%config MemoMagics").stdout.split())
    for name, declared in config.declarations():
        assert (f"MemoMagics.{name}=" in shown) == declared.magic
        if declared.magic:
            assert " ".join(declared.help.split()) in shown
    for variable in ("$IPYCACHE_STORE", "$IPYCACHE_SECRET", "$AWS_ENDPOINT_URL"):
        assert variable in shown


def test_a_setting_read_from_the_environment_is_read_from_the_variable_its_help_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ipycache_ext import config

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    assert "$AWS_ENDPOINT_URL" in config.declared("s3_endpoint").help
    assert config.from_env("s3_endpoint") == "http://127.0.0.1:9000"
