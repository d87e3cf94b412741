"""tools/build-bundle and tools/flash (issue 9): the bundle's layout, its .mpy format and size line,
one-line errors; the flash command line, and the real mpremote copying a bundle to a fake board
on a pseudo-terminal (tests/fake_board.py) without hardware."""

import filecmp
import importlib.util
import json
import os
import shlex
import subprocess
import sys
from importlib.machinery import SourceFileLoader

import pytest

from tests.agentproc import ROOT
from tests.test_portable_imports import PORTABLE_HAL_MODULES, agent_modules

BUILD = str(ROOT / "tools" / "build-bundle")
FLASH = str(ROOT / "tools" / "flash")


def load_tool(path):
    """A script of tools/ (no .py suffix) as a module."""
    loader = SourceFileLoader(os.path.basename(path).replace("-", "_"), path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


builder = load_tool(BUILD)
flasher = load_tool(FLASH)


def tool(path, *args, timeout=120):
    return subprocess.run([sys.executable, path] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout)


def one_line_error(result, name, *words):
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(name + ": error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def bundle_files(out):
    """Every file under `out`, '/'-separated and relative."""
    found = []
    for folder, _, files in os.walk(out):
        found += [os.path.relpath(os.path.join(folder, name), out).replace(os.sep, "/")
                  for name in files]
    return sorted(found)


@pytest.fixture(scope="module")
def esp32(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "esp32"
    result = tool(BUILD, "--board", "esp32", "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def test_the_bundle_is_the_boards_filesystem(esp32):
    out, _ = esp32
    expected = [m[:-3] + ".mpy" for m in agent_modules() + list(builder.HAL_MODULES)]
    assert bundle_files(out) == sorted(expected + ["board.json", "bundle.json",
                                                   "frozen-manifest.py", "main.py",
                                                   "settings.json"])
    for package in ("agent", "agent/services", "hal", "hal/net"):
        assert (out / package / "__init__.mpy").is_file(), package
    # bytecode only: mpy-cross 1.22's format 6, no native code (any port loads it)
    for name in ("agent/boot.mpy", "hal/net/machine.mpy"):
        assert (out / name).read_bytes()[:3] == b"M\x06\x00", name
    assert filecmp.cmp(out / "board.json", ROOT / "boards" / "esp32.json", shallow=False)
    main = (out / "main.py").read_text()
    assert "from agent.boot import main" in main and 'main("settings.json", heap)' in main


def test_the_board_runs_only_portable_hal_modules():
    """What the builder compiles is checked for both runtimes (test_portable_imports), and is
    what a MicroPython board imports: the machine HAL and network backend."""
    assert set(builder.HAL_MODULES) <= set(PORTABLE_HAL_MODULES)
    assert "hal/micropython.py" in builder.HAL_MODULES
    assert "hal/net/machine.py" in builder.HAL_MODULES


def test_settings_template_holds_no_secret(esp32):
    out, _ = esp32
    settings = json.loads((out / "settings.json").read_text())
    assert settings["wifi_ssid"] == settings["wifi_password"] == ""
    assert settings["board"] == "board.json"


def test_manifest_and_size_line(esp32):
    out, stdout = esp32
    manifest = json.loads((out / "bundle.json").read_text())
    on_board = [name for name in bundle_files(out)
                if name not in ("bundle.json", "frozen-manifest.py")]
    assert sorted(manifest["files"]) == on_board
    size = sum(os.path.getsize(out / name) for name in on_board)
    assert (manifest["board"], manifest["mpy_version"], manifest["bytes"]) == ("esp32", 6, size)
    assert "bundle for board esp32 in %s: %d files, %d bytes" % (out, len(on_board), size) \
        in stdout
    assert "loads on MicroPython 1.22 or later" in stdout


def test_the_freeze_manifest_names_exactly_the_bundles_modules(esp32):
    """Run as MicroPython's manifestfile.py would (its include and package functions), the
    freeze manifest yields every module of the bundle, from this repository's sources."""
    out, _ = esp32
    frozen, included = [], []

    def package(name, files=None, base_path="."):
        top = os.path.join(base_path, name)
        if files is None:
            files = [os.path.relpath(os.path.join(folder, f), top) for folder, dirs, fs in
                     os.walk(top) for f in fs if f.endswith(".py")]
        for name_in_package in files:
            path = os.path.join(top, name_in_package)
            assert os.path.isfile(path), path
            frozen.append(os.path.relpath(path, ROOT).replace(os.sep, "/")[:-3] + ".mpy")
    exec((out / "frozen-manifest.py").read_text(), {"include": included.append,
                                                    "package": package})
    assert included == ["$(PORT_DIR)/boards/manifest.py"]  # the port's own modules stay
    compiled = [name for name in bundle_files(out) if name.endswith(".mpy")]
    assert sorted(frozen) == compiled


def test_a_rebuild_keeps_the_users_settings(tmp_path):
    out = tmp_path / "pico"
    assert tool(BUILD, "--board", "pico-w", "--out", out).returncode == 0
    (out / "settings.json").write_text('{"wifi_ssid": "mine"}')
    (out / "agent" / "stale.mpy").write_bytes(b"old")
    result = tool(BUILD, "--board", str(ROOT / "boards" / "pico-w.json"), "--out", out)
    assert result.returncode == 0, result.stderr
    assert (out / "settings.json").read_text() == '{"wifi_ssid": "mine"}'
    assert not (out / "agent" / "stale.mpy").exists()


def test_bad_boards_and_options_are_one_line(tmp_path):
    one_line_error(tool(BUILD, "--board", "no-such-board", "--out", tmp_path / "x"),
                   "build-bundle", "no-such-board")
    one_line_error(tool(BUILD, "--board", "desktop", "--out", tmp_path / "x"),
                   "build-bundle", "not MicroPython")
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "bad", "hal": "machine", "relays": [{"token": "R1"}]}')
    one_line_error(tool(BUILD, "--board", bad, "--out", tmp_path / "x"), "build-bundle", "pin")
    one_line_error(tool(BUILD, "--out", tmp_path / "x"), "build-bundle", "--board is required")
    one_line_error(tool(BUILD, "--board"), "build-bundle", "--board")
    assert not (tmp_path / "x").exists()


def test_a_directory_that_is_no_bundle_is_left_alone(tmp_path):
    (tmp_path / "precious.txt").write_text("keep")
    one_line_error(tool(BUILD, "--board", "esp32", "--out", tmp_path), "build-bundle",
                   "holds no bundle")
    assert (tmp_path / "precious.txt").read_text() == "keep"


# -- tools/flash -------------------------------------------------------------------------------


def test_dry_run_prints_the_exact_mpremote_command(esp32):
    out, _ = esp32
    result = tool(FLASH, "--dry-run", "--port", "/dev/ttyUSB0", out)
    assert result.returncode == 0, result.stderr
    command = shlex.split(result.stdout)
    assert command[:5] == ["mpremote", "connect", "/dev/ttyUSB0", "exec", command[4]]
    assert "os.mkdir(d)" in command[4] and "'agent/services'" in command[4]
    assert command[-2:] == ["+", "reset"]
    copies = []
    for word in command[5:-2]:
        if word == "+":
            copies.append([])
        else:
            copies[-1].append(word)
    targets = {}
    for words in copies:
        assert words[:2] == ["fs", "cp"]
        targets[words[-1]] = [os.path.relpath(path, out) for path in words[2:-1]]
    manifest = json.loads((out / "bundle.json").read_text())
    assert sorted(sum(targets.values(), [])) == sorted(manifest["files"])
    assert targets[":./"] == ["board.json", "main.py", "settings.json"]
    assert targets[":hal/net/"] == ["hal/net/__init__.mpy", "hal/net/base.mpy",
                                    "hal/net/machine.mpy"]


def test_the_command_makes_directories_before_copying_into_them():
    command = flasher.mpremote_command("b", ["main.py", "hal/net/base.mpy", "hal/base.mpy"],
                                       "socket://board:23", mpremote="/bin/mpremote")
    assert command == ["/bin/mpremote", "connect", "socket://board:23", "exec",
                       flasher.MKDIRS % (["hal", "hal/net"],),
                       "+", "fs", "cp", "b/main.py", ":./",
                       "+", "fs", "cp", "b/hal/base.mpy", ":hal/",
                       "+", "fs", "cp", "b/hal/net/base.mpy", ":hal/net/", "+", "reset"]


def test_flash_errors_are_one_line(tmp_path):
    one_line_error(tool(FLASH, "--dry-run", tmp_path), "flash", "is not a bundle",
                   "tools/build-bundle")
    one_line_error(tool(FLASH, "--port"), "flash", "--port needs a value")
    one_line_error(tool(FLASH, "--dry-run"), "flash", "which bundle")
    one_line_error(tool(FLASH, "--speed", "9", tmp_path), "flash", "--speed")


def test_the_real_mpremote_copies_the_bundle_to_a_board(esp32, tmp_path):
    """tools/flash with mpremote against tests/fake_board.py: every file arrives identical, one
    progress line each, the board is reset; flashing again leaves identical files alone."""
    out, _ = esp32
    board = tmp_path / "board"
    board.mkdir()
    fake = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_board.py"), str(board)],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = fake.stdout.readline().strip()
        result = tool(FLASH, "--port", port, out, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        files = json.loads((out / "bundle.json").read_text())["files"]
        progress = [line.split(" ") for line in result.stdout.splitlines()
                    if line.startswith("[")]
        assert [count for count, _ in progress] == ["[%d/%d]" % (i + 1, len(files))
                                                    for i in range(len(files))]
        assert sorted(name for _, name in progress) == sorted(files)
        assert bundle_files(board) == sorted(files)
        for name in files:
            assert filecmp.cmp(out / name, board / name, shallow=False), name
        assert (tmp_path / "resets").read_text() == "reset\n"
        again = tool(FLASH, "--port", port, out, timeout=120)
        assert again.returncode == 0 and again.stdout.count("unchanged on the board") == len(
            files), again.stdout
    finally:
        fake.kill()
        fake.wait()

