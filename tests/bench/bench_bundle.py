"""Flash and RAM of the MicroPython bundle per board (issue 9, README figures).

Flash: the bytes of every file tools/build-bundle puts on the board's filesystem, and what they
take in 4 KiB littlefs blocks (each file at least one block: an upper bound, littlefs inlines
very small files). RAM, in the WebAssembly MicroPython (tests/bundle_boot.py: boot up to the
first socket, fake `network` and `machine`): gc.mem_alloc() once the collector has run (run.mjs
--settled-heap) with the code imported, the agent booted, and after four requests (one of a cold
operation group); and the bytes allocated while booting, garbage included (this port frees
nothing within one run), which bounds what the boot needs at its peak. The .mpy bytecode is
loaded into the heap; firmware with the modules frozen in keeps it in flash instead, which this
runtime cannot show.

    python tests/bench/bench_bundle.py [--board NAME ...]
"""

import json
import pathlib
import shutil
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.test_boot import boot_in_micropython, build_bundle, fill_in_settings  # noqa: E402

BOARDS = ("esp32", "pico2-w")


def held(bundle, *args):
    """KB the script's objects hold once collected (fresh runtime each time)."""
    _, (before, after), _ = boot_in_micropython(bundle, *args)
    return (after - before) / 1024


def measure(board, work):
    bundle = work / board
    build_bundle(board, bundle)
    manifest = json.loads((bundle / "bundle.json").read_text())
    fill_in_settings(bundle, wifi_ssid="bench-net", wifi_password="bench-pw-1")
    print("MicroPython bundle, board %s: flash %d bytes in %d files (%.1f KB; %d KB in 4 KiB "
          "littlefs blocks)" % (board, manifest["bytes"], len(manifest["files"]),
                                manifest["bytes"] / 1024, manifest["blocks"] * 4))
    code = held(bundle, "--stop-after", "imports")
    booted = held(bundle, "--stop-after", "boot")
    result, (before, after), _ = boot_in_micropython(bundle)
    print("MicroPython bundle, board %s: RAM held after boot %.1f KB (code %.1f KB, the built "
          "device %.1f KB), after four requests %.1f KB; %.1f KB allocated while booting, "
          "garbage included" % (board, booted, code, booted - code, (after - before) / 1024,
                                result["heap_held"] / 1024))


def main(argv):
    boards = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--board"] or BOARDS
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-bundle-"))
    try:
        for board in boards:
            measure(board, work)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main(sys.argv[1:])
