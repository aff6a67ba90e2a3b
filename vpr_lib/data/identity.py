"""Content identity of files: what a run read, by the bytes it read, never by name, size or date alone.

A file's digest is the sha1 of its bytes. Hashing is cached per folder (data/cache/digests/, VPR_DATA relocates
it) under the file's stat: device, inode, size, modification *and change* time. `cp -p`, `rsync -t` and `tar`
restore a file's size and modification time, but no tool can restore its change time (ctime), which the kernel
sets to now on every write or metadata change: so rewritten content always misses the cache and is hashed again.
A file changed less than RACY_NS before it was hashed is not cached (git's "racily clean" rule): a rewrite within
the same timestamp tick would otherwise keep its stat.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from vpr_lib.paths import data_dir
from vpr_lib.results import atomic_write_text

RACY_NS = 2_000_000_000  # 2 s: far above any filesystem's timestamp granularity
_FOLDERS: dict = {}  # folder → {file name: [stat key, digest]}: each folder's cache, read once per process


def _stat_key(stat: os.stat_result) -> list:
    return [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _cache_file(folder: str) -> Path:
    return data_dir() / "cache" / "digests" / f"{hashlib.sha1(folder.encode()).hexdigest()[:20]}.json"


def _folder_cache(folder: str) -> dict:
    if folder not in _FOLDERS:
        try:
            _FOLDERS[folder] = json.loads(_cache_file(folder).read_text())
        except (OSError, ValueError):  # none yet, or unreadable: hash anew
            _FOLDERS[folder] = {}
    return _FOLDERS[folder]


def sha1_of_file(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _digests(folder: str, names: list[str]) -> list[str]:
    """The content digests of files `names` of one folder (hashed only when its stat changed)."""
    cache, changed, digests = _folder_cache(folder), False, []
    for name in names:
        path = os.path.join(folder, name)
        stat = os.stat(path)
        entry = cache.get(name)
        if entry is None or entry[0] != _stat_key(stat):
            racy = time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) < RACY_NS
            cache[name] = entry = [None if racy else _stat_key(stat), sha1_of_file(path)]  # None: hashed again
            changed = True
        digests.append(entry[1])
    if changed:
        try:
            atomic_write_text(_cache_file(folder), json.dumps(cache))
        except OSError:  # a read-only data folder: the digests are recomputed next time, never trusted stale
            pass
    return digests


def file_digests(paths) -> list[str]:
    """The content digest of each file of `paths`, in order."""
    by_folder: dict = {}
    for i, path in enumerate(paths):
        folder, name = os.path.split(os.path.abspath(path))
        by_folder.setdefault(folder, []).append((i, name))
    digests = [""] * len(paths)
    for folder, items in by_folder.items():
        for (i, _), digest in zip(items, _digests(folder, [name for _, name in items])):
            digests[i] = digest
    return digests


def file_digest(path: Path) -> str:
    return file_digests([path])[0]


def folder_digest(folder: Path) -> str:
    """Digest of the relative name and content of every file under `folder`."""
    folder = os.path.abspath(folder)
    sha = hashlib.sha1()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        filenames.sort()
        relative = os.path.relpath(dirpath, folder)
        for name, digest in zip(filenames, _digests(dirpath, filenames)):
            sha.update(f"{os.path.normpath(os.path.join(relative, name))}\t{digest}\n".encode())
    return sha.hexdigest()[:12]
