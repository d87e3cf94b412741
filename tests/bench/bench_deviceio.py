"""Benchmark of DeviceIO (issue 6): prints the figures the README's table carries.

* SetRelayOutputState: time from the client's last request byte leaving to the HAL's
  `energize()` call (p50/p99), over one keep-alive connection on loopback, with the agent's
  loop, HTTP server, SOAP dispatch and DeviceIO on the desktop simulator HAL.
* SendReceiveSerialCommand: overhead above the serial line time at 9600 and 115200 baud, for a
  Modbus RTU read (8 bytes out, 7 back). A pseudo-terminal moves bytes at memory speed, so the
  far end (a thread on the pty's slave) answers after the time the request and the reply would
  take on a real line (10 bits a byte); overhead = round trip - that line time. The far end
  is a child process, so its timing spin never competes with the agent for the GIL.

Each figure comes from one run: the agent runs in a thread of this process (tests/eventrig.py),
the client in another, both on the same machine, so the numbers include that machine's scheduling noise.
Run: .venv/bin/python tests/bench/bench_deviceio.py [--requests N]
"""

import os
import pathlib
import subprocess
import sys
import time
import tty

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.eventrig import Client, Rig  # noqa: E402
from tests.soapclient import envelope, http_request  # noqa: E402

BOARD = {"name": "bench", "hal": "sim", "relays": [{"token": "R1"}],
         "serial_ports": [{"token": "RS485", "device": "pty", "type": "RS485HalfDuplex",
                           "baud_rates": [9600, 115200]}]}
MODBUS_REQUEST = bytes.fromhex("010300000001840a")   # read holding register 0 of unit 1
MODBUS_REPLY = bytes.fromhex("01030200 2a385f".replace(" ", ""))
REQUEST_B64 = "AQMAAAABhAo="


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def bench_relay(agent, client, requests):
    called = []
    relay = agent.hal.relays[0]
    real = relay.energize

    def timed(on):
        called.append(time.perf_counter())
        real(on)
    relay.energize = timed
    latencies = []
    for i in range(requests):
        body = ("<tds:SetRelayOutputState><tds:RelayOutputToken>R1</tds:RelayOutputToken>"
                "<tds:LogicalState>%s</tds:LogicalState></tds:SetRelayOutputState>"
                % ("active" if i % 2 == 0 else "inactive"))
        request = http_request("/onvif/deviceio_service", envelope(body), host="127.0.0.1")
        del called[:]
        sent, response = client.exchange(request)
        assert response.status == 200 and len(called) == 1, response.body
        latencies.append((called[0] - sent) * 1000)
    return latencies


def line_time_ms(nbytes, baud):
    return nbytes * 10 * 1000.0 / baud


def serial_peer(path, baud):
    """Child mode, the far end: read a request, wait the line time of request and reply,
    answer; until the parent closes our stdin."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    delay = (line_time_ms(len(MODBUS_REQUEST), baud) +
             line_time_ms(len(MODBUS_REPLY), baud)) / 1000.0
    print("ready", flush=True)
    while True:
        got = b""
        while len(got) < len(MODBUS_REQUEST):
            got += os.read(fd, 64)
        until = time.perf_counter() + delay
        while time.perf_counter() < until:  # spin: sleep() would add its own jitter
            pass
        os.write(fd, MODBUS_REPLY)


def bench_serial(agent, client, baud, requests):
    port = agent.hal.serial_ports[0]
    body = ("<tmd:SetSerialPortConfiguration><tmd:SerialPortConfiguration token=\"RS485\" "
            "type=\"RS485HalfDuplex\"><tmd:BaudRate>%d</tmd:BaudRate><tmd:ParityBit>None"
            "</tmd:ParityBit><tmd:CharacterLength>8</tmd:CharacterLength><tmd:StopBit>1"
            "</tmd:StopBit></tmd:SerialPortConfiguration><tmd:ForcePersistance>false"
            "</tmd:ForcePersistance></tmd:SetSerialPortConfiguration>" % baud)
    assert client.exchange(http_request("/onvif/deviceio_service", envelope(body),
                                        host="127.0.0.1"))[1].status == 200
    peer = subprocess.Popen([sys.executable, __file__, "--peer", port.path, str(baud)],
                            stdout=subprocess.PIPE, text=True)
    assert peer.stdout.readline().strip() == "ready"
    command = http_request("/onvif/deviceio_service", envelope(
        "<tmd:SendReceiveSerialCommand><tmd:Token>RS485</tmd:Token><tmd:SerialData>"
        "<tmd:Binary>%s</tmd:Binary></tmd:SerialData><tmd:TimeOut>PT1S</tmd:TimeOut>"
        "<tmd:DataLength>7</tmd:DataLength></tmd:SendReceiveSerialCommand>" % REQUEST_B64),
        host="127.0.0.1")
    line = line_time_ms(len(MODBUS_REQUEST) + len(MODBUS_REPLY), baud)
    overheads = []
    for _ in range(requests):
        sent, response = client.exchange(command)
        total = (time.perf_counter() - sent) * 1000
        assert response.status == 200 and b"AQMCACo4Xw==" in response.body, response.body
        overheads.append(total - line)
    peer.kill()
    peer.wait()
    return line, overheads


def main():
    if "--peer" in sys.argv:
        at = sys.argv.index("--peer")
        serial_peer(sys.argv[at + 1], int(sys.argv[at + 2]))
        return
    requests = 300
    if "--requests" in sys.argv:
        requests = int(sys.argv[sys.argv.index("--requests") + 1])
    agent = Rig(BOARD)
    try:
        client = Client(agent.server.port)
        relay = bench_relay(agent, client, requests)
        print("SetRelayOutputState request -> HAL call: p50 %.2f ms, p99 %.2f ms (%d requests)"
              % (percentile(relay, 0.5), percentile(relay, 0.99), requests))
        for baud in (9600, 115200):
            line, overheads = bench_serial(agent, client, baud, max(50, requests // 3))
            print("SendReceiveSerialCommand at %d baud: line time %.2f ms, overhead above it "
                  "p50 %.2f ms, p99 %.2f ms" % (baud, line, percentile(overheads, 0.5),
                                               percentile(overheads, 0.99)))
    finally:
        agent.close()


if __name__ == "__main__":
    main()
