"""Key files: secrets kept with the server and out of the database (the KYC sealing keys, the
PIN keys).

A key file holds one or more lines ``<key id>:<base64 of a 32-byte key>``; ``#`` starts a comment.
The first line is the key new values are made with, every line still opens or checks what was
made under it, so a key is rotated by putting a new line first (:func:`rotate`). A missing file
is created with one fresh key, mode 0600, by whichever process comes first.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

KEY_BYTES = 32


def new_key_line(key_id: str = "k1") -> str:
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def _create(path: Path) -> None:
    """Write a new key file whole under another name, then link it into place: a process reading
    at the same moment finds no file or the whole one, never an empty one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(new_key_line() + "\n")
        os.link(temporary, path)
    except FileExistsError:  # another process made it first: theirs is the key
        pass
    finally:
        temporary.unlink(missing_ok=True)


def parse(text: str, path: Path) -> list[tuple[str, bytes]]:
    keys = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key_id, _, encoded = line.partition(":")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError:
            key = b""
        if not key_id or "$" in key_id or len(key) != KEY_BYTES:
            raise ValueError(
                f"{path}:{number}: each line is <key id>:<base64 of a {KEY_BYTES}-byte key>"
            )
        keys.append((key_id, key))
    if not keys:
        raise ValueError(f"{path} holds no key")
    return keys


def load_or_make(path: Path) -> list[tuple[str, bytes]]:
    """The file's keys, the first one first (the file made with one key if missing)."""
    if not path.exists():
        _create(path)
    return parse(path.read_text(encoding="utf-8"), path)


def rotate(path: Path) -> str:
    """Put a new key first (the older ones stay, to open what they made); the new key's id."""
    keys = load_or_make(path)
    taken = {key_id for key_id, _ in keys}
    number = len(keys) + 1
    while f"k{number}" in taken:
        number += 1
    key_id = f"k{number}"
    old = "".join(f"{k}:{base64.b64encode(v).decode()}\n" for k, v in keys)
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(new_key_line(key_id) + "\n" + old)
    os.replace(temporary, path)
    return key_id
