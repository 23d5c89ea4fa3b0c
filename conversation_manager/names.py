"""Name validation and path resolution inside the data directory (no symlinks followed).

Names outside their pattern are refused, never normalised. Imports neither Flask nor an SDK.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from .errors import InvalidId, StorageError

# Accounts made earlier under the old pattern keep working everywhere; new names may not start
# with `-` or `_` (a name like `--help` broke the `flask users` commands).
_USER_RE = re.compile(r"[a-z0-9_-]{3,32}")
_NEW_USER_RE = re.compile(r"[a-z0-9][a-z0-9_-]{2,31}")
_CONVERSATION_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")

LOCK_NAME = ".lock"
INDEX_NAME = ".index.jsonl"
CORRUPT_DIR = ".corrupt"
TURNS_DIR = ".turns"
TMP_MARK = ".tmp-"


def validate_user(name: object) -> str:
    """Return `name` when it is a valid user name, else raise InvalidId."""
    if not isinstance(name, str) or _USER_RE.fullmatch(name) is None:
        raise InvalidId("user")
    return name


def validate_new_user(name: object) -> str:
    """Return `name` when it is valid for a new account, else raise InvalidId."""
    if not isinstance(name, str) or _NEW_USER_RE.fullmatch(name) is None:
        raise InvalidId("user")
    return name


def validate_conversation_id(cid: object) -> str:
    """Return `cid` when it is a valid conversation id, else raise InvalidId."""
    if not isinstance(cid, str) or _CONVERSATION_RE.fullmatch(cid) is None:
        raise InvalidId("conversation_id")
    return cid


def is_valid_conversation_id(cid: str) -> bool:
    """Return True when `cid` matches the conversation id pattern."""
    return _CONVERSATION_RE.fullmatch(cid) is not None


def is_valid_user(name: str) -> bool:
    """Return True when `name` matches the user name pattern."""
    return _USER_RE.fullmatch(name) is not None


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
