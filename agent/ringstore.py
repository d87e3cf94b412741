"""Persistent notification storage: a preallocated ring buffer file (issue 7, checklist 10.2,
10.12).

Why a ring: the event history a Seek replays must survive restarts and power cuts, yet take a
fixed, known amount of disk or flash; the oldest records give way to new ones and are counted.

File format (little-endian), `capacity` bytes preallocated:

    0   file header, 16 bytes: b"ORB1", capacity u32, salt u32, crc32 of the 12 bytes before
    16  the same header again (written once at creation; a damaged copy is repaired from the other)
    32  the ring: `capacity - 32` bytes holding records back to back as one byte stream that
        wraps from the ring's last byte to its first; a record may straddle the end (no padding)

    record: magic 0xFEC0 u16, payload length u16, seq u32, time u32 (UTC seconds),
            crc u32 = crc32(the 12 bytes before, then the payload), seeded with the file's salt;
            then the payload

Writes: a record's payload goes first, its 16-byte header last, then one flush + fsync; only then
does append() return. A write cut short by a kill or a power loss leaves bytes whose CRC fails, so
it is never mistaken for a record; the salt makes a record image inside a payload, or one left by
an earlier file at this path, fail its CRC as well.

Recovery (by scan, reading the ring once): every valid record is found, chaining from record to
record by length and searching for the next magic after damaged bytes. The newest (highest seq)
ends where the next record will start; walking back from it in ring order, records are kept while
their seq decreases, so one out of order (a sector the medium duplicated) is never returned.
Records lost to corruption leave a gap in seq (logged); those lost before the oldest survivor
count as overwritten.

Sequence numbers start at 1 and continue from the newest valid record after a restart (u32: they
would wrap after 4 billion appends); a fresh file (a capacity change, both header copies lost)
starts again at 1. Times may go backwards when the clock is set back: seek()
works in seq order (the order notifications happened), never sorts by time.
"""

import struct
from binascii import crc32

from agent import compat, log

FILE_MAGIC = b"ORB1"
FILE_HEAD = 16
DATA = 2 * FILE_HEAD        # where the ring starts
RECORD = "<HHIII"           # magic, length, seq, time, crc
HEAD = 16                   # struct.calcsize(RECORD)
MAGIC = 0xFEC0
MAGIC_BYTES = b"\xc0\xfe"   # bytes no UTF-8 text, zeroed file or erased flash (0xFF) contains
MAX_LENGTH = 0xFFFF
MASK = 0xFFFFFFFF
CHUNK = 1024                # read size while scanning: bounds memory on small boards


class RingStore:
    """Preallocated file of `capacity` bytes holding records (seq, time, payload), oldest first."""

    def __init__(self, path, capacity=65536, *, max_payload=1024):
        if not 0 < max_payload <= MAX_LENGTH:
            raise ValueError("max_payload must be 1..%d" % MAX_LENGTH)
        if capacity < DATA + HEAD + max_payload:
            raise ValueError("capacity %d too small for %d-byte payloads" % (capacity, max_payload))
        self.path = path
        self.capacity = capacity
        self.max_payload = max_payload
        self._ring = capacity - DATA
        try:
            self._file = open(path, "r+b")
        except OSError:
            self._file = open(path, "w+b")  # OSError here: the file cannot be created at all
        self._salt = self._read_header()
        self._preallocate()
        self._recover()

    # -- public API -----------------------------------------------------------------------

    @property
    def count(self):
        return len(self._seqs)

    @property
    def first_seq(self):
        return self._seqs[0] if self._seqs else None

    @property
    def last_seq(self):
        return self._seqs[-1] if self._seqs else None

    @property
    def first_time(self):
        return self._times[0] if self._times else None

    def append(self, time, payload):
        """Store one record durably and return its seq, overwriting the oldest records if full."""
        length = len(payload)
        if length > self.max_payload:
            raise ValueError("payload of %d bytes over max_payload %d" % (length, self.max_payload))
        if not 0 <= time <= MASK:
            raise ValueError("time %r outside u32 seconds" % (time,))
        size = HEAD + length
        while self._seqs and self._free() < size:  # 10.12: the oldest give way, counted
            self._seqs.pop(0)
            self._times.pop(0)
            self._pos.pop(0)
            self.overwritten += 1
        seq = self._next_seq
        pos = self._head
        head = struct.pack("<HHII", MAGIC, length, seq, time)
        crc = crc32(payload, crc32(head, self._salt)) & MASK
        self._write(pos + HEAD, payload)
        self._write(pos, head + struct.pack("<I", crc))  # the header last: see the module doc
        compat.fsync(self._file)
        self._seqs.append(seq)
        self._times.append(time)
        self._pos.append(pos)
        self._head = (pos + size) % self._ring
        self._next_seq = seq + 1
        return seq

    def records(self, start_seq=None):
        """[(seq, time, payload)] oldest first, from `start_seq` on (all when None)."""
        return list(self.scan(start_seq))

    def scan(self, start_seq=None, reverse=False):
        """(seq, time, payload) one at a time, read from the file only when asked for: oldest
        first from `start_seq` on, or with `reverse` newest first from the last seq at most
        `start_seq` (from the newest when None). A reader that stops early reads no more, so a
        pull of ten messages reads ten records, not the whole ring. Not to be held across an
        append (the loop runs one callback at a time, so a pull never is)."""
        seqs = self._seqs
        if reverse:
            last = len(seqs) if start_seq is None else _first_at_least(seqs, start_seq + 1)
            indexes = range(last - 1, -1, -1)
        else:
            indexes = range(0 if start_seq is None else _first_at_least(seqs, start_seq),
                            len(seqs))
        for i in indexes:
            record = self._record(self._pos[i], True)
            if record is None:  # damaged since recovery: never returned
                log.warning("ring store %s: record %d unreadable", self.path, seqs[i])
                continue
            yield seqs[i], record[1], record[3]

    def seek(self, time, reverse=False):
        """The seq of the first record (in seq order) with time >= `time`, or with `reverse` the
        last with time <= `time`; None when there is none."""
        times = self._times
        if reverse:
            for i in range(len(times) - 1, -1, -1):
                if times[i] <= time:
                    return self._seqs[i]
        else:
            for i in range(len(times)):
                if times[i] >= time:
                    return self._seqs[i]
        return None

    def close(self):
        self._file.close()

    # -- ring I/O -------------------------------------------------------------------------

    def _read(self, pos, n):
        """`n` bytes of the ring from `pos`, wrapping past its end."""
        pos %= self._ring
        first = min(n, self._ring - pos)
        f = self._file
        f.seek(DATA + pos)
        data = f.read(first)
        if first < n:
            f.seek(DATA)
            data += f.read(n - first)
        return data

    def _write(self, pos, data):
        pos %= self._ring
        first = self._ring - pos
        f = self._file
        f.seek(DATA + pos)
        if len(data) <= first:
            f.write(data)  # no slice: MicroPython would copy the payload
        else:
            f.write(data[:first])
            f.seek(DATA)
            f.write(data[first:])

    def _free(self):
        """Bytes from the write position up to the oldest live record."""
        return (self._pos[0] - self._head) % self._ring

    def _record(self, pos, keep_payload):
        """(seq, time, size, payload or None) of a valid record at `pos`, else None.

        The CRC is computed chunk by chunk, so a garbage length never allocates more than CHUNK
        bytes while scanning."""
        head = self._read(pos, HEAD)
        if len(head) < HEAD:
            return None
        magic, length, seq, time, crc = struct.unpack(RECORD, head)
        if magic != MAGIC or HEAD + length > self._ring:
            return None
        value = crc32(head[:12], self._salt)
        parts = []
        done = 0
        while done < length:
            chunk = self._read(pos + HEAD + done, min(CHUNK, length - done))
            if not chunk:
                return None
            value = crc32(chunk, value)
            if keep_payload:
                parts.append(chunk)
            done += len(chunk)
        if value & MASK != crc:
            return None
        return seq, time, HEAD + length, b"".join(parts) if keep_payload else None

    def _next_magic(self, pos):
        """The ring position of the next magic at or after `pos`, or the ring size if none."""
        while pos < self._ring:
            n = min(CHUNK, self._ring - pos)
            found = self._read(pos, n + 1).find(MAGIC_BYTES)  # +1: a magic split by a chunk end
            if 0 <= found < n:
                return pos + found
            pos += n
        return self._ring

    # -- opening and recovery -------------------------------------------------------------

    def _read_header(self):
        """The salt of a valid file header (repairing a damaged copy), or of a fresh one."""
        f = self._file
        f.seek(0)
        data = f.read(DATA)
        copies = [_parse_header(data[:FILE_HEAD]), _parse_header(data[FILE_HEAD:DATA])]
        valid = [copy for copy in copies if copy is not None]
        if valid and valid[0][0] == self.capacity:
            if len(valid) == 1:
                log.warning("ring store %s: a damaged header copy repaired", self.path)
                self._write_header(valid[0][1])
            return valid[0][1]
        if valid:  # the configured size wins; the old records do not fit its geometry
            log.warning("ring store %s: capacity changed from %d to %d: starting empty",
                        self.path, valid[0][0], self.capacity)
            f.close()
            self._file = open(self.path, "w+b")
        elif data:
            log.warning("ring store %s: no valid header: starting empty", self.path)
        salt = int.from_bytes(compat.urandom(4), "little")
        self._write_header(salt)
        return salt

    def _write_header(self, salt):
        body = FILE_MAGIC + struct.pack("<II", self.capacity, salt)
        header = body + struct.pack("<I", crc32(body) & MASK)
        f = self._file
        f.seek(0)
        f.write(header + header)
        compat.fsync(f)

    def _preallocate(self):
        """Extend the file with zeros to `capacity` (a new or truncated file)."""
        f = self._file
        f.seek(0, 2)
        size = f.tell()
        if size >= self.capacity:
            return
        if size > DATA:
            log.warning("ring store %s: file truncated to %d bytes", self.path, size)
        zeros = bytes(CHUNK)
        while size < self.capacity:
            n = min(CHUNK, self.capacity - size)
            f.write(zeros[:n])
            size += n
        compat.fsync(f)

    def _recover(self):
        """Rebuild the index (seqs, times, positions, oldest first) from the records on file."""
        seqs, times, positions = [], [], []
        newest = None  # (seq, end) of the highest seq found
        pos = 0
        while pos < self._ring:
            record = self._record(pos, False)
            if record is None:
                pos = self._next_magic(pos + 1)
                continue
            seq, time, size, _ = record
            seqs.append(seq)
            times.append(time)
            positions.append(pos)
            if newest is None or seq > newest[0]:
                newest = (seq, (pos + size) % self._ring)
            pos += size
        self._seqs, self._times, self._pos = [], [], []
        self._head = 0
        self._next_seq = 1
        self.overwritten = 0
        if newest is None:
            return
        self._head = newest[1]
        self._next_seq = newest[0] + 1
        # Ring order starting at the write position: records from it to the ring's end, then
        # from the ring's start. Walking back from the newest, keep strictly decreasing seqs.
        split = 0
        while split < len(positions) and positions[split] < self._head:
            split += 1
        order = list(range(split, len(positions))) + list(range(split))
        below = newest[0] + 1
        for i in range(len(order) - 1, -1, -1):
            j = order[i]
            if seqs[j] < below:
                below = seqs[j]
                self._seqs.append(seqs[j])
                self._times.append(times[j])
                self._pos.append(positions[j])
        self._seqs.reverse()
        self._times.reverse()
        self._pos.reverse()
        self.overwritten = self._seqs[0] - 1
        lost = newest[0] - self._seqs[0] + 1 - len(self._seqs)
        if lost:
            log.warning("ring store %s: %d records between %d and %d unreadable",
                        self.path, lost, self._seqs[0], newest[0])


def _parse_header(copy):
    """(capacity, salt) of a file header copy, or None if it is damaged."""
    if len(copy) < FILE_HEAD or copy[:4] != FILE_MAGIC:
        return None
    capacity, salt, crc = struct.unpack("<III", copy[4:])
    return (capacity, salt) if crc32(copy[:12]) & MASK == crc else None


def _first_at_least(values, target):
    """Index of the first of the ascending `values` >= `target` (len(values) if none)."""
    low, high = 0, len(values)
    while low < high:
        middle = (low + high) // 2
        if values[middle] < target:
            low = middle + 1
        else:
            high = middle
    return low
