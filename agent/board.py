"""Board definitions: which HAL, which pins and names (a JSON file in boards/ or any path).

Boards are data, chosen by `--board` (lessons-from-anchors 8): no platform if/elif in code.
"""

import json
import os
import sys

from .errors import ConfigError

DEFAULT_BOARD = "desktop"


def board_dirs():
    """Where named boards are looked up: the source tree, then the installed data files."""
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    return (here + "/../boards", getattr(sys, "prefix", "") + "/share/onvif-agent/boards")


def find_board(name_or_path):
    """A board name (`desktop`) or a path to a board file; returns the file's path."""
    if "/" in name_or_path or name_or_path.endswith(".json"):
        return name_or_path
    for folder in board_dirs():
        path = folder + "/" + name_or_path + ".json"
        try:
            os.stat(path)
            return path
        except OSError:
            pass
    raise ConfigError("no board named %r (looked in %s)" % (name_or_path,
                                                              ", ".join(board_dirs())))


def load_board(name_or_path=DEFAULT_BOARD):
    """Read and check a board file; every problem is one ConfigError naming the file."""
    path = find_board(name_or_path)
    try:
        with open(path, "rb") as f:
            board = json.loads(f.read())
    except OSError as exc:
        raise ConfigError("cannot read board file %s: %s" % (path, exc))
    except ValueError as exc:
        raise ConfigError("board file %s is not valid JSON: %s" % (path, exc))
    if not isinstance(board, dict):
        raise ConfigError("board file %s must hold a JSON object" % path)
    for key in ("name", "hal"):
        if not isinstance(board.get(key), str) or not board[key]:
            raise ConfigError("board file %s needs a string %r" % (path, key))
    board["path"] = path
    return board
