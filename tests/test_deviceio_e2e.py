"""DeviceIO end to end (issue 6): the real agent process on the desktop board, strict zeep on
the official WSDLs, Home Assistant's onvif-zeep-async, the simulator's control command, and a
real RS-485 peer (a pymodbus Modbus RTU server) on the printed pseudo-terminal."""

import asyncio
import re
import subprocess
import sys
import threading

import pytest

from tests import schema
from tests.agentproc import ROOT, AgentProcess
from tests.clients import DEVICE_BINDING, DEVICEIO_BINDING, zeep_service
from tests.modbus_peer import ModbusPeer, modbus_crc, read_registers_request
from tests.test_e2e_clients import ADMIN, ADMIN_PASSWORD, RecordingTransport, token

SERIAL = re.compile(r"serial port (\S+): (/dev/\S+)")


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    state = tmp_path_factory.mktemp("state")
    env = {"ONVIF_AGENT_ADMIN": "%s:%s" % (ADMIN, ADMIN_PASSWORD)}
    with AgentProcess(state, env=env) as proc:
        yield proc


@pytest.fixture
def transport():
    t = RecordingTransport()
    yield t
    for body in t.received:
        schema.validate_envelope(body)


def deviceio(agent, transport):
    return zeep_service("deviceio", DEVICEIO_BINDING, agent.url.replace(
        "device_service", "deviceio_service"), transport=transport, wsse=token()).service


def sim(agent, *words):
    """`onvif-agent sim ...` against the running agent; returns its output line."""
    result = subprocess.run([sys.executable, "-m", "agent", "sim"] + list(words) +
                            ["--state-dir", str(agent.state_dir)], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def serial_path(agent):
    for line in agent.banner:
        found = SERIAL.search(line)
        if found:
            return found.group(2)
    raise AssertionError("no serial port in the banner: %s" % "".join(agent.banner))


def test_banner_names_the_serial_port_and_the_sim_command(agent):
    text = "".join(agent.banner)
    assert SERIAL.search(text), text
    assert "sim control: " + str(agent.state_dir) + "/sim.sock" in text, text


def test_relays_with_strict_zeep(agent, transport):
    service = deviceio(agent, transport)
    relays = service.GetRelayOutputs()
    assert [r.token for r in relays] == ["R1", "R2"]
    options = service.GetRelayOutputOptions()
    assert options[0].Mode == ["Monostable", "Bistable"]
    service.SetRelayOutputSettings(RelayOutput={
        "token": "R1", "Properties": {"Mode": "Bistable", "DelayTime": "PT1S",
                                      "IdleState": "open"}})
    service.SetRelayOutputState(RelayOutputToken="R1", LogicalState="active")
    assert "R1=closed" in sim(agent, "state")
    service.SetRelayOutputState(RelayOutputToken="R1", LogicalState="inactive")
    assert "R1=open" in sim(agent, "state")
    device = zeep_service("devicemgmt", DEVICE_BINDING, agent.url, transport=transport,
                          wsse=token()).service
    assert [r.token for r in device.GetRelayOutputs()] == ["R1", "R2"]
    assert device.GetCapabilities(Category=["All"]).Device.IO.RelayOutputs == 2


def test_faults_reach_zeep_with_their_subcodes(agent, transport):
    import zeep.exceptions
    service = deviceio(agent, transport)
    for call, subcode in (
            (lambda: service.SetRelayOutputState(RelayOutputToken="R9", LogicalState="active"),
             "RelayToken"),
            (lambda: service.SetRelayOutputSettings(RelayOutput={
                "token": "R1", "Properties": {"Mode": "Monostable", "DelayTime": "PT9999S",
                                              "IdleState": "open"}}), "ModeError"),
            (lambda: service.GetSerialPortConfiguration(SerialPortToken="COM9"),
             "InvalidSerialPort"),
            (lambda: service.GetVideoOutputConfiguration(VideoOutputToken="V1"),
             "NoVideoOutput")):
        with pytest.raises(zeep.exceptions.Fault) as info:
            call()
        names = [getattr(q, "localname", str(q)) for q in info.value.subcodes or []]
        assert subcode in names, (subcode, names)


def test_inputs_follow_the_sim_command(agent, transport):
    service = deviceio(agent, transport)
    assert [(i.token, i.IdleState) for i in service.GetDigitalInputs()] == [
        ("IN1", "open"), ("IN2", "open")]
    assert sim(agent, "input", "IN1", "closed") == "ok"
    assert "IN1=closed" in sim(agent, "state")
    service.SetDigitalInputConfigurations(DigitalInputs=[{"token": "IN2", "IdleState": "closed"}])
    assert service.GetDigitalInputs()[1].IdleState == "closed"
    sim(agent, "input", "IN1", "open")


def test_modbus_peer_through_send_receive_serial_command(agent, transport):
    service = deviceio(agent, transport)
    port = service.GetSerialPorts()[0].token
    options = service.GetSerialPortConfigurationOptions(SerialPortToken=port)
    assert 19200 in options.BaudRateList.Items
    service.SetSerialPortConfiguration(SerialPortConfiguration={
        "token": port, "type": "RS485HalfDuplex", "BaudRate": 19200, "ParityBit": "None",
        "CharacterLength": 8, "StopBit": 1}, ForcePersistance=False)
    config = service.GetSerialPortConfiguration(SerialPortToken=port)
    assert (config.BaudRate, config.type) == (19200, "RS485HalfDuplex")
    with ModbusPeer(serial_path(agent), 19200, registers=(1234, 5678)):
        request = read_registers_request(1, 0, 2)
        # DataLength: the 9-byte answer (unit, function, count, 2 registers, CRC).
        reply = service.SendReceiveSerialCommand(Token=port, SerialData={"Binary": request},
                                                 TimeOut="PT2S", DataLength=9)
        data = reply.Binary if hasattr(reply, "Binary") else reply["Binary"]
        assert data[:7] == bytes([1, 3, 4, 0x04, 0xD2, 0x16, 0x2E])
        assert data[7:] == modbus_crc(data[:7])
        # Only TimeOut: everything that arrived within it.
        reply = service.SendReceiveSerialCommand(Token=port, SerialData={"Binary": request},
                                                 TimeOut="PT0.5S")
        assert (reply.Binary if hasattr(reply, "Binary") else reply["Binary"]) == data
        # An unknown unit: pymodbus answers a 5-byte exception frame, short of DataLength, so
        # the time runs out and the answer carries what did arrive.
        unknown = read_registers_request(7, 0, 1)
        reply = service.SendReceiveSerialCommand(Token=port, SerialData={"Binary": unknown},
                                                 TimeOut="PT0.3S", DataLength=7)
        data = reply.Binary if hasattr(reply, "Binary") else reply["Binary"]
        assert len(data) == 5 and data[1] == 0x83 and data[3:] == modbus_crc(data[:3])


def test_a_waiting_serial_command_does_not_stall_other_clients(agent, transport):
    """Nobody answers on the line for 3 s; meanwhile another client is served at once."""
    service = deviceio(agent, transport)
    done = []

    def wait_for_nothing():
        done.append(service.SendReceiveSerialCommand(
            Token="RS485", SerialData={"Binary": b"\x01"}, TimeOut="PT3S", DataLength=4))
    waiter = threading.Thread(target=wait_for_nothing)
    waiter.start()
    other = zeep_service("devicemgmt", DEVICE_BINDING, agent.url,
                         transport=RecordingTransport(timeout=2)).service
    for _ in range(5):
        assert other.GetSystemDateAndTime().UTCDateTime is not None
    assert waiter.is_alive(), "the serial command is still waiting for its time-out"
    waiter.join(10)
    assert done == [None]


def test_onvif_zeep_async_deviceio_service(agent):
    """Home Assistant's library: create_deviceio_service() and the relay calls."""
    from onvif import ONVIFCamera

    async def run():
        camera = ONVIFCamera("127.0.0.1", agent.port, ADMIN, ADMIN_PASSWORD, adjust_time=True)
        try:
            await camera.update_xaddrs()
            service = await camera.create_deviceio_service()
            relays = await service.GetRelayOutputs()
            await service.SetRelayOutputState({"RelayOutputToken": "R2", "LogicalState": "active"})
            inputs = await service.GetDigitalInputs()
            caps = await service.GetServiceCapabilities()
            return relays, inputs, caps
        finally:
            await camera.close()
    relays, inputs, caps = asyncio.run(run())
    assert [r.token for r in relays] == ["R1", "R2"]
    assert "R2=closed" in sim(agent, "state")
    assert len(inputs) == caps.DigitalInputs == 2
    assert caps.RelayOutputs == 2 and caps.SerialPorts == 1

