"""Where the JSON backend keeps things: the user directory, the conversation files, the dot-names.

Paths are resolved inside the data directory and no symlink is followed; names are checked by
`conversation_manager.names` first. Imports neither Flask nor an SDK.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..atomic_files import TMP_MARK
from ..errors import InvalidId, StorageError
from ..names import validate_conversation_id, validate_user

LOCK_NAME = ".lock"  # the per-user lock file every writer takes
INDEX_NAME = ".index.jsonl"  # the per-user listing index (derived from the files)
CORRUPT_DIR = ".corrupt"  # damaged conversation files set aside, `<id>-<time>.json`
TURNS_DIR = ".turns"  # the files of turns in flight (journal, stop file, turn lock)

__all__ = [
    "CORRUPT_DIR",
    "INDEX_NAME",
    "LOCK_NAME",
    "TMP_MARK",
    "TURNS_DIR",
    "check_dir",
    "conversation_path",
    "user_dir",
]


def user_dir(data_dir: str | os.PathLike[str], user: str) -> Path:
    """Return the checked directory of `user` inside `data_dir` (it need not exist yet)."""
    base = Path(os.path.realpath(data_dir))
    path = base / validate_user(user)
    if path.parent != base or os.path.commonpath([base, path]) != str(base):
        raise InvalidId("user")
    return path


def check_dir(path: Path) -> bool:
    """Return True when `path` is a real directory, False when missing; refuse anything else."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StorageError("cannot inspect the user directory") from exc
    if stat.S_ISLNK(st.st_mode):
        raise StorageError("the user directory is a symbolic link")
    if not stat.S_ISDIR(st.st_mode):
        raise StorageError("the user directory is not a directory")
    return True


def conversation_path(udir: Path, cid: str) -> Path:
    """Return the file of conversation `cid` in the user directory `udir`."""
    return udir / f"{validate_conversation_id(cid)}.json"
