"""SendReceiveSerialCommand on the loop (checklist 9.3): write, then collect the reply until
DataLength bytes or the Delimiter arrived or TimeOut ran out, never blocking anyone.

One command runs per port at a time; later ones queue (a bus like RS-485 has one talker).
Bytes come in through the loop's poll when the HAL port is pollable, else by sampling it every
POLL_MS; bytes that arrive with no command running are read and dropped, so a flooding peer
costs a bounded read per wakeup and no memory.
"""

from . import log
from .soap import SoapFault
from .loop import POLLIN

MAX_SEND = 1024       # bytes one command may send (DataLengthOver beyond)
MAX_RECEIVE = 1024    # bytes one reply may collect: DataLength beyond is DataLengthOver
MAX_DELIMITER = 16    # longer Delimiters are DelimiterNotSupported
MAX_WAIT_MS = 30000   # our bound for "wait for DataLength/Delimiter" with no TimeOut
MAX_QUEUED = 4        # commands waiting for a busy port
POLL_MS = 10          # sampling period of ports the loop cannot poll
READ_SIZE = 256


class Command:
    """One SendReceiveSerialCommand: `done(data)` with the collected bytes, or
    `failed(fault)`; `cancel()` when the client has gone."""

    def __init__(self, data, timeout_ms, data_length, delimiter, done, failed):
        self.data = data or b""
        self.data_length = data_length
        self.delimiter = delimiter
        self.wait_ms = _wait_ms(timeout_ms, data_length, delimiter)
        self.done = done
        self.failed = failed
        self.received = b""
        self.cancelled = False

    def cancel(self):
        self.cancelled = True

    def complete_part(self):
        """The reply so far, if it is complete: up to and including the Delimiter (a
        multi-character Delimiter is one delimiter), or the first DataLength bytes."""
        if self.delimiter:
            end = self.received.find(self.delimiter)
            if end >= 0:
                return self.received[:end + len(self.delimiter)]
        if self.data_length and len(self.received) >= self.data_length:
            return self.received[:self.data_length]
        if len(self.received) >= MAX_RECEIVE:
            return self.received[:MAX_RECEIVE]
        return None


def _wait_ms(timeout_ms, data_length, delimiter):
    """Checklist 9.3: TimeOut > 0 waits at most that long; PT0S sends only; negative or
    absent waits for DataLength/Delimiter (bounded by MAX_WAIT_MS), or not at all when the
    request names neither."""
    if timeout_ms is not None and timeout_ms >= 0:
        return min(timeout_ms, MAX_WAIT_MS)
    return MAX_WAIT_MS if (data_length or delimiter) else 0


def check_request(data, data_length, delimiter):
    """The faults of checklist 9.7 for what a request asks, before anything is sent."""
    if len(data or b"") > MAX_SEND:
        raise SoapFault("Sender", "OperationProhibited", "DataLengthOver",
                        reason="at most %d bytes may be sent" % MAX_SEND)
    if data_length is not None and not 0 <= data_length <= MAX_RECEIVE:
        raise SoapFault("Sender", "OperationProhibited", "DataLengthOver",
                        reason="DataLength must be 0..%d" % MAX_RECEIVE)
    if delimiter is not None and len(delimiter) > MAX_DELIMITER:
        raise SoapFault("Sender", "OperationProhibited", "DelimiterNotSupported",
                        reason="Delimiter longer than %d bytes" % MAX_DELIMITER)


class SerialLine:
    """Runs the commands of one HAL serial port on the loop."""

    def __init__(self, port, loop):
        self.port = port
        self.loop = loop
        self.queue = []
        self.current = None
        self.unsent = b""
        self.deadline = None
        self.sampler = None
        self.dropped = 0  # bytes read with no command waiting for them
        self.pollable = port.pollable()
        if self.pollable is not None:
            loop.register(self.pollable, POLLIN, self._readable)

    def close(self):
        if self.pollable is not None:
            self.loop.unregister(self.pollable)
        self._stop_timers()

    def submit(self, command):
        if self.current is not None:
            if len(self.queue) >= MAX_QUEUED:
                raise SoapFault("Receiver", "Action", reason="serial port %s is busy"
                                % self.port.token)
            self.queue.append(command)
            return
        self._begin(command)

    def _begin(self, command):
        self.current = command
        try:
            self.port.discard_input()  # a stale reply must not answer this command
        except Exception as exc:
            self._fail(exc)
            return
        self.unsent = command.data
        self.deadline = None
        self._write()
        if self.current is command and self.pollable is None:
            self.sampler = self.loop.call_later(POLL_MS, self._sample)

    def _write(self):
        """Send what is left; the wait for the reply starts once the last byte is out."""
        if self.unsent:
            try:
                taken = self.port.write(self.unsent)
            except Exception as exc:
                self._fail(exc)
                return
            self.unsent = self.unsent[taken or 0:]
            if self.unsent:
                self.loop.call_later(POLL_MS, self._write_more)
                return
        command = self.current
        if command.wait_ms == 0:
            self._finish(b"")
        else:
            self.deadline = self.loop.call_later(command.wait_ms, self._timed_out)

    def _write_more(self):
        if self.current is not None and self.unsent:
            self._write()

    def _readable(self, events):
        self._read()

    def _sample(self):
        self.sampler = None
        if self.current is not None:
            self._read()
        if self.current is not None:
            self.sampler = self.loop.call_later(POLL_MS, self._sample)

    def _read(self):
        try:
            data = self.port.read(READ_SIZE)
        except Exception as exc:
            if self.current is not None:
                self._fail(exc)
            return
        if not data:
            return
        command = self.current
        if command is None or self.unsent or self.deadline is None:
            self.dropped += len(data)  # nobody asked (yet): a chatty or flooding peer
            return
        command.received += data
        reply = command.complete_part()
        if reply is not None:
            self._finish(reply)

    def _timed_out(self):
        self.deadline = None
        if self.current is not None:
            self._finish(self.current.received[:MAX_RECEIVE])

    def _finish(self, reply):
        command = self._end()
        if not command.cancelled:
            command.done(reply)
        self._next()

    def _fail(self, exc):
        log.error("serial port %s failed: %s", self.port.token, exc)
        command = self._end()
        if not command.cancelled:
            command.failed(SoapFault("Receiver", "Action",
                                     reason="serial port %s failed: %s" % (self.port.token, exc)))
        self._next()

    def _end(self):
        command, self.current = self.current, None
        self.unsent = b""
        self._stop_timers()
        return command

    def _stop_timers(self):
        for timer in (self.deadline, self.sampler):
            if timer is not None:
                timer.cancel()
        self.deadline = self.sampler = None

    def _next(self):
        while self.queue:
            command = self.queue.pop(0)
            if not command.cancelled:
                self._begin(command)
                return
