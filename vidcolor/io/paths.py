"""A run's input and output paths: which are streams read once (stdin, a pipe), which name one file, the file stdin
was redirected from, the output a run writes to by default, and the checks of both before any work."""
from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path

from vidcolor.errors import VidcolorError, option
from vidcolor.io import is_still_image, output_format
from vidcolor.io.files import file_stamp, name_of, read_once    # (in files: io.ffmpeg_images, below paths, names too)
from vidcolor.io.sequences import find_sequence, is_sequence, sequence_stem
from vidcolor.io.writer import format_suffix
from vidcolor.names import check_named


def check_input(input: str | Path) -> None:
    """Raise VidcolorError early (before a model loads) when ``input`` is neither ``-`` nor an existing path (a
    name too long for the file system, a folder on the way that cannot be looked into: one line saying so).

    Raises:
        TypeError: ``input`` is no ``str`` or path-like object (None, a list of files, bytes; an int was taken as
            a file descriptor by ``os.stat``).
    """
    check_input_found(check_path(input, "input"))


def check_input_found(input: str | Path) -> None:
    """:func:`check_input` of an ``input`` that :func:`check_path` took: ``-``, a path that exists, or an image
    sequence's pattern whose frames are found (:func:`~vidcolor.io.sequences.find_sequence`)."""
    if str(input) == "-":
        return
    if is_sequence(input):
        find_sequence(input)
        return
    check_named(str(input), "input", "give a path, or - for stdin")        # was ': no such file or folder'
    try:
        os.stat(input)
    except (FileNotFoundError, NotADirectoryError):
        raise VidcolorError(f"{input}: no such file or folder") from None
    except OSError as exc:
        raise VidcolorError(f"{input}: " + ("file name too long" if exc.errno == errno.ENAMETOOLONG else
                                            f"cannot read ({exc.strerror or exc})")) from None


def check_path(path, name: str, none: bool = False) -> str | Path | None:
    """Refuse a ``path`` (the parameter ``name``) that is no ``str`` or :class:`os.PathLike` (nor None, where ``none``
    allows it): ``os.stat`` said "stat: path should be string, bytes, os.PathLike or integer, not list", naming no
    parameter, and took an int for a file descriptor. Returns it, another path-like object than
    :class:`pathlib.Path` (pytest's ``tmpdir``, a ``py.path.local``) as a :class:`~pathlib.Path`: the reader took
    one for a file object ("open() argument 'mode' must be str, not int").

    Raises:
        TypeError: naming the parameter and what was given.
    """
    if not ((none and path is None) or (isinstance(path, (str, os.PathLike)) and
                                        isinstance(os.fspath(path), str))):
        raise TypeError(f"{name} must be a path (str or pathlib.Path){', None' if none else ''} or '-', got "
                        f"{type(path).__name__}" + (f" {path!r}" if isinstance(path, (int, bytes)) else ""))
    return path if path is None or isinstance(path, (str, Path)) else Path(os.fspath(path))


def input_stamp(input: str | Path) -> tuple[int, int] | None:
    """``(size, modification time in ns)`` of a regular file ``input``; None for stdin, a pipe, or what cannot be
    read. :func:`~vidcolor.api.process` compares it before and after a clip's run: a file still being written (a
    recording in progress, Matroska or MPEG-TS, which read as far as they are written) was processed up to where it had
    got, silently."""
    return None if read_once(input) else file_stamp(own_path(input))


def redirected_stdin() -> Path | None:
    """The regular file that stdin was redirected from (``vidcolor dequantize - < in.mkv``), read from its start,
    by a name that still leads to it (Linux: ``/proc/self/fd/N``); None for a pipe, a terminal, a closed stdin, a
    file read part way already, or one whose name is gone. The encoder takes its audio, subtitles and metadata from
    it, as from ``/dev/stdin`` on a file (:func:`own_path`): they were dropped, with a warning that called it a
    pipe."""
    try:
        fd = sys.stdin.buffer.fileno()          # the stream the reader takes ("-"), not one put in its place
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or os.lseek(fd, 0, os.SEEK_CUR) != 0:
            return None
        real = Path(os.path.realpath(f"/proc/self/fd/{fd}"))
        named = os.stat(real)
    except (AttributeError, OSError, ValueError):       # io.UnsupportedOperation: no descriptor (a BytesIO)
        return None
    same = stat.S_ISREG(named.st_mode) and (named.st_dev, named.st_ino) == (found.st_dev, found.st_ino)
    return real if same else None


def own_path(input: str | Path) -> Path:
    """The path another process (the encoder) opens for ``input``, a regular file: ``/dev/stdin``,
    ``/dev/fd/N`` and ``/proc/self/fd/N`` name each process's own file (the encoder's stdin is the video vidcolor
    sends it), so they are resolved to the file they stand for here; other paths are kept as given."""
    if str(input).startswith(("/dev/", "/proc/")):
        real = Path(os.path.realpath(input))
        if real.is_file():
            return real
    return Path(input)


def output_for(input: str | Path, output: str | Path | None, suffix: str, container: str | None = None) -> str | Path:
    """``output``, or :func:`default_output` when it is None (named with the suffix of ``container``, the ffmpeg
    format, when given); that name inside ``output`` where it names a folder (:func:`names_folder`) for an input
    that is no folder (a folder's output is a folder: ``output`` itself).

    Raises:
        VidcolorError: no output given for stdin or another pipe (:func:`read_once`), or a folder given for it; an output that is the input
            itself (also the file stdin is redirected from, :func:`redirected_stdin`), an empty name (``-o "$OUT"`` with
            ``OUT`` unset: read as the current folder, a folder run wrote its outputs there, a clip's said '. is a
            folder'), or a ``container`` with no known suffix to name it with
            (:func:`~vidcolor.io.writer.format_suffix`).
    """
    check_named(output, "output", "give a path, or - for stdout")
    if output is not None and names_folder(output) and not (str(input) != "-" and Path(input).is_dir()):
        if read_once(input):            # stdin or a pipe has no name to name a file in the folder after
            raise VidcolorError(f"{output} is a folder; reading {name_of(input)}, give the output a file name")
        output = Path(output) / default_output(input, suffix, container).name
    if output is None:
        if str(input) == "-":
            raise VidcolorError("reading stdin: give the output with -o (a path, or - for stdout)")
        if read_once(input):        # /dev/fd/63_dequantized.mp4 cannot be written
            raise VidcolorError(f"reading {input}, a pipe: give the output with -o (a path, or - for stdout)")
        output = default_output(input, suffix, container)
    if str(output) != "-" and str(input) != "-" and same_file(output, input):
        raise VidcolorError(f"{output} would overwrite the input" + ("" if str(output) == str(input) else f" ({input})"))
    if (str(output) != "-" and str(input) == "-" and (stdin := redirected_stdin()) is not None
            and same_file(output, stdin)):
        raise VidcolorError(f"{output} would overwrite the input (stdin, redirected from it)")
    return output


def names_folder(output: str | Path) -> bool:
    """Whether ``output`` names a folder to write a single input's output into (under :func:`default_output`'s
    name): an existing folder (or a link to one), or a name that ends with a slash (a folder to be made; ``-o out``
    without one, and without a suffix, is a file name that names no format). ``-`` (stdout) and an image sequence's
    pattern never do."""
    text = str(output)
    if text == "-" or is_sequence(output):
        return False
    return text.endswith((os.sep, os.altsep or os.sep)) or os.path.isdir(output)


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether the paths ``a`` and ``b`` name one file or folder: the same path once resolved (``..``, symbolic
    links), or, where both exist, the same file system object (:func:`os.path.samefile`: device and inode), which
    paths alone do not show (a bind mount, a second mount of one share, another case of the name on a
    case-insensitive disk, a hard link)."""
    if _resolved(a) == _resolved(b):
        return True
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):          # one is missing (or cannot be looked at): nothing there to overwrite
        return False


def _resolved(path: str | Path) -> Path:
    """``path`` resolved (:meth:`pathlib.Path.resolve`), a symbolic link loop on its way a one-line VidcolorError
    (resolve's RuntimeError was an internal error)."""
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError):
        raise VidcolorError(f"{path}: cannot be followed (a symbolic link loop on its way)") from None


def check_format_named(output: str | Path, container: str | None) -> None:
    """Refuse a video file name whose suffix names another format than ``container`` (``-o a.mkv --format mp4``
    wrote MP4 data under a Matroska name). A suffix that names no format (``.bin``, none) is what ``container``
    is for; stdout has no name.

    Raises:
        VidcolorError: naming both, and the suffix to give.
    """
    if container is None or str(output) == "-":
        return
    try:
        named = output_format(Path(output))
    except VidcolorError:                   # no format of its own: the container names it
        return
    if named != container:
        try:
            advice = f"name it {Path(output).with_suffix(format_suffix(container)).name}"
        except VidcolorError:
            advice = "give another name"
        raise VidcolorError(f"{output}: its suffix {Path(output).suffix} says {named} but "
                            f"{option('container', '--format')} says {container}; {advice}, or drop "
                            f"{option('container', '--format')}")


def default_output(input: str | Path, suffix: str, container: str | None = None) -> Path:
    """``clip.mkv`` -> ``clip_<suffix>.mp4`` (with ``container``, the suffix of that format:
    :func:`~vidcolor.io.writer.format_suffix`); ``a.gif`` -> ``a_<suffix>.png`` (an animated one: ``.mp4``);
    ``dir`` -> ``dir_<suffix>``; an image sequence ``scan_%06d.dpx`` -> ``scan_<suffix>.mp4`` beside its frames
    (:func:`~vidcolor.io.sequences.sequence_stem`); a folder named by a path whose last part is ``.`` or ``..`` (``.``, ``./``, ``..``,
    ``dir/..``), which has no name of its own to put the suffix on, is resolved first, so its output is the one its
    own name gives, beside it (``.`` in ``/a/shots`` -> ``/a/shots_<suffix>``).

    Raises:
        VidcolorError: the root folder, which has no name at all.
    """
    p = Path(input)
    if is_sequence(p):
        return p.with_name(f"{sequence_stem(p)}_{suffix}{format_suffix(container or 'mp4')}")
    if p.name in ("", ".."):            # Path drops a '.' part: '.' and './' are Path('.'), whose name is ''
        p = p.resolve()
        if not p.name:
            raise VidcolorError(f"{input}: the root folder has no name to name the output after; give the output "
                                "with -o")
    if p.is_dir():
        return p.with_name(f"{p.name}_{suffix}")
    return p.with_name(f"{p.stem}_{suffix}{'.png' if is_still_image(p) else format_suffix(container or 'mp4')}")
