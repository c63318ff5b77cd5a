"""Partial files: where a result is written before it is renamed into place, and the partial files that runs killed
outright left.

A result (a video, an image, a cached graph) is written under a hidden temporary name beside its target
(:func:`partial_file`) and renamed into place only when complete (:func:`vidcolor.io.writer.move_into_place`), so a
failed or interrupted run never leaves a half-written output: it removes its partial file (:func:`discard`). A run
killed with SIGKILL can remove nothing; each partial file is locked (``flock``) while its run lives, and the next run
writing the same target removes the unlocked ones (:func:`remove_dead_partials`).
"""
from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
import threading
import time
from pathlib import Path

from vidcolor.errors import VidcolorError


def partial_file(target: Path, suffix: str) -> Path:
    """Create the empty temporary file a result is written to before it is renamed to ``target`` (in the
    same folder, so the rename is atomic); the folder is created when missing. Its name is
    ``.<stem>.XXXXXXXX<suffix>``, the stem shortened where that would be longer than the file system takes
    (:func:`name_max`), so that every name the folder takes can be written.

    The file is locked (an exclusive :func:`fcntl.flock`, held by this process through a descriptor kept open,
    :func:`hold_partial`) until it is renamed into place (:func:`~vidcolor.io.writer.move_into_place`) or removed (:func:`discard`): a
    run killed with SIGKILL (the out-of-memory killer, ``kill -9``), which can remove nothing, leaves its partial
    file unlocked (the kernel releases a dead process's locks), and the next run writing ``target`` removes it first
    (:func:`remove_dead_partials`) while the file of a run that is alive, in this process or another, in another
    container or on another host sharing the folder over NFS, stays. (Linux NFS clients take ``flock`` as a lock on
    the whole file at the server, unless mounted ``nolock`` or ``local_lock=flock``; a host that dies holding one
    loses it when its lease ends at the server, about 90 s with NFSv4.) ffmpeg, writing the file by its name, holds
    no lock: the lock is vidcolor's (its descriptor is not inherited), and ffmpeg dies with vidcolor
    (:func:`~vidcolor.io.writer.child_options`).

    Raises:
        VidcolorError: the folder cannot be created or written (a path through a file, no permission), or each of
            100 files made there was removed before it could be locked (by other runs' sweeps).
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        longest = name_max(target.parent)
        remove_dead_partials(target)
        stem = _short_stem(target.stem, suffix, longest)
        for _ in range(100):
            fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=suffix, dir=target.parent)
            if hold_partial(fd, tmp):
                return Path(tmp)
    except OSError as exc:
        raise cannot_write(target, exc) from None
    raise VidcolorError(f"{target}: cannot write there (every temporary file made there was removed at once)")


NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)
"""Errors of creating a file or folder that say its folder cannot be written (no permission, a read-only mount)."""


def cannot_write(target: Path, exc: OSError) -> VidcolorError:
    """The error for ``exc``, raised creating ``target`` (a file) or the missing folders on its way: what is in the
    way (:func:`blocked_way`: ``"img.png/run: cannot write there (img.png is a file, not a folder)"``); where a folder
    cannot be written (:data:`NOT_WRITABLE`), that folder by name: ``"ro/x.mp4: cannot write there (the folder ro is
    not writable: Permission denied)"``, or the missing folder that cannot be made in it, ``"ro/fr: cannot create
    the folder (ro is not writable: Permission denied)"`` (was ``ro/fr/1.png: cannot write there (Permission
    denied)``, naming neither); else ``"<target>: cannot write there (<the system's reason>)"``."""
    target = Path(target)
    why = blocked_way(target)
    if why is None and exc.errno in NOT_WRITABLE:
        base = nearest_there(target)
        if base == target.parent or base is None:
            return VidcolorError(f"{target}: cannot write there (the folder {_named(target.parent)} is not writable: "
                                 f"{exc.strerror})")
        missing = next(p for p in target.parents if p.parent == base)
        return VidcolorError(f"{missing}: cannot create the folder ({_named(base)} is not writable: {exc.strerror})")
    return VidcolorError(f"{target}: cannot write there ({why or exc.strerror or exc})")


def _named(folder: Path) -> str:
    """``folder`` as a message names it: as given, the current folder (``.``, which names nothing) by its path."""
    return os.path.abspath(folder) if str(folder) == "." else str(folder)


def nearest_there(path: Path) -> Path | None:
    """The nearest of ``path``'s parents (as given: ``img.png/run`` -> ``img.png``, then ``.``) that is there: a
    name that exists as an entry (:func:`os.path.lexists`), a symbolic link whose target is missing too; None where
    none is (an absolute path on a missing root cannot be)."""
    return next((a for a in path.parents if os.path.lexists(a)), None)


def blocked_way(path: Path) -> str | None:
    """Why the missing folders on ``path``'s way cannot be made: the nearest of its parents that is there
    (:func:`nearest_there`) is no folder: ``"img.png is a file, not a folder"``, ``"link is a symbolic link to
    nothing, not a folder"``, ``"link is a symbolic link to a file, not a folder"``, ``"loop is a symbolic link
    loop, not a folder"``, or what the system says where it cannot be looked at (``"link: Permission denied"``: a
    link into a folder that cannot be read); None where it is a folder. A dangling link counts as there (lexists,
    not exists): ``mkdir`` cannot make a folder in its place (EEXIST), so skipping it would blame nothing (``File
    exists``) or the folder above it. Never raises."""
    base = nearest_there(path)
    if base is None:
        return None
    try:
        found = os.stat(base)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return f"{base} is a symbolic link to nothing, not a folder"
        if exc.errno == errno.ELOOP:
            return f"{base} is a symbolic link loop, not a folder"
        return f"{base}: {exc.strerror or exc}"
    if stat.S_ISDIR(found.st_mode):
        return None
    return f"{base} is {'a symbolic link to a file' if os.path.islink(base) else 'a file'}, not a folder"


def check_way(path: Path) -> None:
    """Refuse ``path`` whose missing folders cannot be made (:func:`blocked_way`), before any work: VidcolorError
    ``"img.png/run: cannot write there (img.png is a file, not a folder)"``."""
    why = blocked_way(Path(path))
    if why is not None:
        raise VidcolorError(f"{path}: cannot write there ({why})")


def _short_stem(stem: str, suffix: str, longest: int) -> str:
    """``stem`` shortened so that ``.<stem>.XXXXXXXX<suffix>`` takes at most ``longest`` bytes (:func:`partial_file`)."""
    while stem and len(os.fsencode(f".{stem}.XXXXXXXX{suffix}")) > longest:    # mkstemp adds 8 characters
        stem = stem[:-1]
    return stem


try:
    import fcntl
except ImportError:             # Windows: no advisory locks; partial files are neither locked nor looked for
    fcntl = None

_held: dict[str, int] = {}
"""The partial files this process created and locks (:func:`partial_file`): absolute path -> the locked descriptor."""
_held_guard = threading.Lock()

SCRATCH_TAILS = (".frames.nut", ".palette.nut", ".concat.txt")
"""The suffixes of the temporary files, besides the partial output, written beside a target (:func:`partial_file`):
GIF output's frames and palette (:meth:`~vidcolor.io.writer.VideoWriter._gif_passes`), the list of :func:`~vidcolor.io.writer.join_segments`."""


def _try_lock(fd: int) -> bool | None:
    """Take an exclusive lock on ``fd`` without waiting: True (taken), False (another open file holds one),
    None (the file system locks nothing, or no :mod:`fcntl`)."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return False if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN) else None
    return True


def _same_file(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (not removed, nor replaced by another)."""
    try:
        named, held = os.stat(path, follow_symlinks=False), os.fstat(fd)
    except OSError:
        return False
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def hold_partial(fd: int, path: str | Path) -> bool:
    """Lock the file just created as ``path`` (open as ``fd``) for this process until :func:`release` or
    :func:`discard`, keeping ``fd`` open (it is closed here otherwise). False when another run removed it between its
    creation and the lock (:func:`remove_dead_partials` found it unlocked): the caller makes another. A file
    system without locks (or Windows): the file is kept unlocked, which no run removes (it cannot lock it either)."""
    path = os.fspath(path)
    locked = _try_lock(fd)
    if locked is None:
        os.close(fd)
        return True
    if not locked or not _same_file(fd, path):     # a cleaner holds it (and removes it), or has removed it
        os.close(fd)
        return False
    with _held_guard:
        _held[os.path.abspath(path)] = fd
    return True


def release(tmp: str | Path) -> None:
    """Unlock the partial file ``tmp`` (:func:`partial_file`) once it is renamed into place or removed: the locked
    descriptor is closed. Nothing for a file this process does not hold."""
    with _held_guard:
        fd = _held.pop(os.path.abspath(tmp), None)
    if fd is not None:
        os.close(fd)


def discard(tmp: str | Path) -> None:
    """Remove the partial file ``tmp`` (:func:`partial_file`; gone already: nothing) and unlock it, in that order: it
    is never there unlocked."""
    Path(tmp).unlink(missing_ok=True)
    release(tmp)


def _forget_held() -> None:
    """(In a child process just forked.) Close the child's copies of the locked descriptors: a lock is held while any
    process has its open file, so a forked child living on would keep a dead parent's partial files locked. Closing a
    copy leaves the parent's lock. Only system calls, no lock taken: another thread may have held one at the fork."""
    for fd in list(_held.values()):
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_held)


def partial_names(target: Path) -> re.Pattern:
    """The names of the partial files that :func:`partial_file` gives for ``target`` (the partial output, a temporary
    file of the same suffix, :data:`SCRATCH_TAILS`), as one pattern to match whole names against."""
    longest = name_max(target.parent)
    return re.compile("|".join(re.escape(f".{_short_stem(target.stem, t, longest)}.") + r"[a-z0-9_]{8}" + re.escape(t)
                               for t in _tails(target)))


def _tails(target: Path) -> list[str]:
    """What follows the random part of the names of ``target``'s partial files (:func:`partial_names`): never the
    bare suffix, so that a user's own hidden ``.clip.original.mp4`` beside ``clip.mp4`` cannot match."""
    return sorted({f".partial{target.suffix}", *SCRATCH_TAILS})


def remove_dead_partials(target: Path) -> list[Path]:
    """Remove the partial files of ``target`` (:func:`partial_names`, in its folder) whose run is dead: those that
    no process locks (:func:`remove_if_dead`). Those of a live run, here or elsewhere, stay, and so does a file that
    cannot be opened to try (another user's), or whose file system locks nothing. Never raises: a folder that
    cannot be listed is left as it is.

    Returns:
        The files removed.
    """
    shortest = _short_stem(target.stem, max(_tails(target), key=lambda t: len(os.fsencode(t))), name_max(target.parent))
    return _remove_dead_matching(target.parent, f".{shortest}.", partial_names(target))


def _remove_dead_matching(folder: str | Path, prefix: str, names: re.Pattern) -> list[Path]:
    """Remove the files of ``folder`` whose whole name matches ``names`` (and starts with ``prefix``, a hidden name:
    ``.`` first, a quicker test) and that no process locks (:func:`remove_if_dead`), from the folder's listing of at
    most :data:`LISTING_SECONDS` ago (:func:`_hidden_names`); never raises."""
    if fcntl is None:
        return []
    try:
        listed = _hidden_names(folder)
    except OSError:
        return []
    found = [os.path.join(folder, n) for n in listed if n.startswith(prefix) and names.fullmatch(n)]
    return [Path(p) for p in found if remove_if_dead(p)]


LISTING_SECONDS = 10.0
"""How long this process uses a folder's listing again to find dead partial files (:func:`_hidden_names`)."""
_listings: dict[str, tuple[float, tuple[str, ...]]] = {}
"""Folder (absolute) -> (when it was listed, :func:`time.monotonic`; its hidden names then)."""


def _hidden_names(folder: str | Path) -> tuple[str, ...]:
    """The hidden names (``.`` first) in ``folder``, listed again where this process's last listing of it is older
    than :data:`LISTING_SECONDS`: a folder run writing thousands of outputs lists their folder once every few
    seconds, not once for each (20,000 files: about 10 ms a listing on a local disk, more over NFS). Every name found
    is tried again each time (:func:`remove_if_dead`); a partial file made after the listing, by a run that has died
    since, is found by the next listing, or the next run.

    Raises:
        OSError: the folder cannot be listed.
    """
    key, now = os.path.abspath(folder), time.monotonic()
    with _held_guard:
        cached = _listings.get(key)
    if cached is not None and 0 <= now - cached[0] < LISTING_SECONDS:
        return cached[1]
    with os.scandir(key) as entries:
        names = tuple(e.name for e in entries if e.name.startswith("."))
    with _held_guard:
        if len(_listings) >= 64:                       # a bound: the oldest goes
            del _listings[min(_listings, key=lambda k: _listings[k][0])]
        _listings[key] = (now, names)
    return names


PARTIAL_MODE = 0o600
"""The mode a partial file has while its run writes it (:func:`tempfile.mkstemp`'s; the usual mode is given only as it
is renamed into place, :func:`~vidcolor.io.writer.move_into_place`): :func:`remove_if_dead` removes no file with
another, nor one of another user, so that a user's own hidden file whose name happens to fit the pattern
(``.clip.original.mp4`` beside ``clip.mp4``) is never taken for a partial file."""


def remove_if_dead(path: str | Path) -> bool:
    """Remove the file ``path`` if no process locks it (:func:`partial_file`'s lock: its run is dead) and return
    whether it did. It is removed while locked here, so a run that has just created it and not yet locked it
    finds it gone and makes another (:func:`hold_partial`). Left, False: not a regular file, not this user's or not
    of :data:`PARTIAL_MODE`, one this process holds, not openable (no permission), a file system without locks, a
    lock held. The file is opened for writing where it can be (an NFS client takes ``flock`` as a POSIX lock at the
    server, and an exclusive one needs a descriptor open for writing), else for reading. Never raises."""
    if fcntl is None:
        return False
    path = str(path)
    with _held_guard:
        if os.path.abspath(path) in _held:      # ours, alive (closing a copy would drop our POSIX lock over NFS)
            return False
    flags = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        found = os.stat(path, follow_symlinks=False)
        if not stat.S_ISREG(found.st_mode) or stat.S_IMODE(found.st_mode) != PARTIAL_MODE \
                or (hasattr(os, "getuid") and found.st_uid != os.getuid()):
            return False
        try:
            fd = os.open(path, os.O_RDWR | flags)
        except OSError:
            fd = os.open(path, os.O_RDONLY | flags)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode) or not _try_lock(fd) or not _same_file(fd, path):
            return False
        os.unlink(path)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def name_max(folder: Path) -> int:
    """The longest file name (bytes) the file system of ``folder`` takes: ``NAME_MAX``, 255 where it is not known."""
    try:
        longest = os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, ValueError, OSError):       # no pathconf (Windows), or not known there
        return 255
    return longest if longest > 0 else 255
