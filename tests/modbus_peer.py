"""A real RS-485 peer for tests: a pymodbus Modbus RTU server on a serial device path (the
simulator's pseudo-terminal), served from its own asyncio thread (CPython tests only)."""

import asyncio
import struct
import threading


def modbus_crc(frame):
    """CRC-16/MODBUS (Modbus over serial line 6.2.2), low byte first."""
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return struct.pack("<H", crc)


def read_registers_request(unit, first, count):
    """Function 3, read holding registers, with its CRC."""
    frame = struct.pack(">BBHH", unit, 3, first, count)
    return frame + modbus_crc(frame)


class ModbusPeer:
    """`with ModbusPeer(path, baud, registers=[...]):` unit 1 answers on `path` meanwhile."""

    def __init__(self, path, baudrate, registers=(1234, 5678), unit=1):
        from pymodbus.server import ModbusSerialServer
        from pymodbus.simulator import DataType, SimData, SimDevice
        device = SimDevice(id=unit, simdata=[SimData(0, values=list(registers),
                                                     datatype=DataType.REGISTERS)])
        connected = threading.Event()

        async def serve():  # pymodbus wants its running loop when the server is made
            self.server = ModbusSerialServer(device, port=path, baudrate=baudrate,
                                             trace_connect=lambda up: up and connected.set())
            await self.server.serve_forever()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(serve(),),
                                       daemon=True)
        self.thread.start()
        if not connected.wait(5):
            raise RuntimeError("pymodbus did not open %s" % path)

    def close(self):
        asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop).result(5)
        self.thread.join(5)
        self.loop.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
