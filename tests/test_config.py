"""The config file: where it lives, what it may say, and that real runs use it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from proc import Launcher, confide_command, connected, message_line

from confide import config
from confide.errors import UsageError


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_path_follows_the_platform_dir_and_the_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONFIDE_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config.config_path() == tmp_path / "confide" / "config.toml"
    monkeypatch.setenv("CONFIDE_CONFIG", str(tmp_path / "other.toml"))
    assert config.config_path() == tmp_path / "other.toml"


def test_a_missing_file_means_defaults(tmp_path: Path) -> None:
    cfg = config.load(tmp_path / "absent.toml")
    assert cfg == config.Config()
    assert (cfg.nick, cfg.bell, cfg.theme, cfg.typing, cfg.port, cfg.relay) == (
        None,
        True,
        "dark",
        False,
        7100,
        None,
    )


def test_every_key_is_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "c.toml",
        'nick = "alice"\nbell = false\ntheme = "mono"\ntyping = true\nport = 7300\n'
        "notify = true\nnotify_text = true\n"
        'relay = "relay.example:7200"\nlog_dir = "~/logs"\ndownloads = "~/in"\nfuture_key = 1\n'
        "require_pq = true\n",
    )
    cfg = config.load(path)
    assert cfg.values() == {
        "nick": "alice",
        "bell": False,
        "theme": "mono",
        "typing": True,
        "notify": True,
        "notify_text": True,
        "port": 7300,
        "relay": "relay.example:7200",
        "log_dir": "~/logs",
        "downloads": "~/in",
        "require_pq": True,
    }
    assert config.downloads_dir(cfg) == Path("~/in").expanduser()
    assert config.downloads_dir(config.Config()) is None  # the platform's folder
    assert cfg.path == path
    assert cfg.ignored == ("future_key",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port = 'x'", "port must be a integer"),
        ("port = true", "port must be a integer"),
        ("port = 70000", "port must be between 0 and 65535"),
        ("bell = 1", "bell must be a boolean"),
        ("theme = 'neon'", "theme must be one of dark, light, mono"),
        ("nick = '  '", "nick: a nick can't be empty"),
        ("nick = 'a: b'", "nick: a nick can't contain ':'"),
        ("relay = '[::1'", "relay: bad address"),
        ("log_dir = ''", "log_dir must not be empty"),
        ("downloads = ' '", "downloads must not be empty"),
        ("downloads = 1", "downloads must be a string"),
        ("require_pq = 1", "require_pq must be a boolean"),
        ("relay = 'host:notaport'", "relay: bad port"),
        ("nick = ", "is not valid TOML"),
    ],
)
def test_bad_values_are_usage_errors(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path / "c.toml", text + "\n")
    with pytest.raises(UsageError) as caught:
        config.load(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
    assert caught.value.exit_code == 2


def test_describe_round_trips_through_toml(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", 'nick = "a \\"quoted\\" nick"\nport = 0\n')
    cfg = config.load(path)
    text = config.describe(cfg)
    assert text.splitlines()[0] == f"# config file: {path}"
    again = config.load(_write(tmp_path / "again.toml", text))
    assert again.values() == cfg.values()
    assert "# relay is not set" in text


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_")}
    full.update(env)
    return subprocess.run(
        [*confide_command(), *args],
        check=False,
        capture_output=True,
        text=True,
        env=full,
        timeout=30,
    )


def test_print_config_shows_where_and_what(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    shown = _run("--print-config", env=env)
    assert shown.returncode == 0
    where = tmp_path / "confide" / "config.toml"
    assert f"# config file: {where}  (not found: all defaults)" in shown.stdout
    assert "port = 7100" in shown.stdout
    _write(where, 'nick = "zoe"\nbell = false\n')
    shown = _run("--print-config", env=env)
    assert shown.returncode == 0
    assert shown.stdout.splitlines()[:3] == [
        f"# config file: {where}",
        'nick = "zoe"',
        "bell = false",
    ]


def test_a_broken_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    _write(tmp_path / "confide" / "config.toml", "port = [\n")
    done = _run("--print-config", env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert done.returncode == 2
    assert "is not valid TOML" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_real_chat_uses_the_config_nick_and_port_and_flags_win(confide: Launcher) -> None:
    _write(Path(confide.config_home) / "confide" / "config.toml", 'nick = "carol"\nport = 0\n')
    # no --port and no --name: the config's port 0 (a free port) and nick are used
    host = confide.run("host", "--bind", "127.0.0.1", "--plain", label="host")
    port = int(host.expect_err(r"^listening on 127\.0\.0\.1:(\d+)$").group(1))
    assert port != 7100
    code = host.expect_err(r"^code: (\S+)$").group(1)
    bob = confide.run(
        "join", "--at", f"127.0.0.1:{port}", "--plain", "--name", "bob",
        env={"CONFIDE_CODE": code}, label="join",
    )  # fmt: skip
    connected(host, bob)
    host.say("hello from the config")
    bob.expect_out(message_line("carol", "hello from the config"))
    bob.say("hi carol")
    host.expect_out(message_line("bob", "hi carol"))  # --name beat the config's nick
    bob.say("bye")
    assert bob.wait() == 0
    assert host.wait() == 0
