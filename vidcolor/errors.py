"""The one error type for bad user input; the CLI turns it into one line and exit code 1.

A message names an option for both of its readers (:func:`option`): a library caller reads the keyword parameter
(``crf``, ``skip_existing``), a CLI user the flag (``--crf``, ``--skip-existing``; :func:`cli_wording`). So do a
run's warnings (:func:`warn`) and notes (a summary's, an error's: :func:`worded`), worded as they are made, for the
reader of the run: the CLI's flags while the CLI runs (:func:`cli_reader`), else the parameters."""
from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import warnings

_OPTION = re.compile("\x00([^\x00\x01]*)\x01([^\x00]*)\x00")
"""An option marked in a message by :func:`option`: its library name, then its CLI flag."""


def option(name: str, flag: str | None = None) -> str:
    """An option as a :class:`VidcolorError`'s message names it: ``name``, the library's keyword parameter
    (``batch_size``; with its value, ``executor='ray'``), which ``str(error)`` reads, and ``flag``, the CLI's, which
    the CLI's line reads (:func:`cli_wording`); by default ``--`` and ``name`` with ``-`` for ``_`` (``--batch-size``),
    then the value (``--executor ray``). Also in a warning or note that :func:`warn` or :func:`worded` words; outside
    those the returned text is meant for neither reader."""
    if flag is None:
        key, _, value = name.partition("=")
        flag = "--" + key.replace("_", "-") + (" " + value.strip("'") if value else "")
    return f"\x00{name}\x01{flag}\x00"


def cli_wording(exc: BaseException) -> str:
    """``exc``'s message as the CLI says it: the options that :func:`option` marked in it by their flags (``--crf``
    where ``str(exc)`` reads ``crf``); any other exception's ``str``."""
    marked = getattr(exc, "marked", None)
    return str(exc) if marked is None else _OPTION.sub(r"\2", marked)


_cli_reads = False
"""Whether the CLI runs (:func:`cli_reader`): a warning or note names options by their flags."""


@contextlib.contextmanager
def cli_reader():
    """While in this block (the CLI's command), :func:`worded` and :func:`warn` name options by their CLI flags;
    outside it (a library call), by the library's parameters."""
    global _cli_reads
    before, _cli_reads = _cli_reads, True
    try:
        yield
    finally:
        _cli_reads = before


def cli_reads() -> bool:
    """Whether the CLI runs (inside :func:`cli_reader`): what only its user is told (colour input to colorize,
    :func:`vidcolor.chroma.in_colour`) is looked for then alone."""
    return _cli_reads


def worded(text: str) -> str:
    """``text`` (a warning, a note) with the options that :func:`option` marked in it named for the run's reader:
    ``--skip-existing`` in the CLI (:func:`cli_reader`, as :func:`cli_wording` words an error), ``skip_existing``
    in a library call (as ``str(error)``)."""
    return _OPTION.sub(r"\2" if _cli_reads else r"\1", text)


_state_lock = threading.Lock()
_kept: list[list[str]] = []
"""The lists of the :func:`kept_warnings` blocks open in the process, the latest last: :func:`warn` keeps its texts in
the latest instead of saying them."""

_said: set[str] | None = None
"""While a :func:`said_once` block is open: the texts :func:`warn` said in it."""
_said_depth = 0
"""How many :func:`said_once` blocks are open (in any thread): the record is dropped when the last one closes."""


@contextlib.contextmanager
def kept_warnings():
    """While in this block, :func:`warn` keeps each text in the yielded list (its options still marked by
    :func:`option`) instead of saying them, for another process to say with :func:`warn`: a Ray worker's warnings,
    which its driver says as a local run does (:mod:`vidcolor.distributed`), where the worker's own would have been
    a raw Python warning line in Ray's log, shown on the driver or not, once per worker. For the whole process (the
    run's stage threads' too), not one thread's: where blocks of two threads overlap, a text goes to the block opened
    last, and each block's closing removes its own list, whatever the order."""
    kept: list[str] = []
    with _state_lock:
        _kept.append(kept)
    try:
        yield kept
    finally:
        with _state_lock:
            _kept[:] = [k for k in _kept if k is not kept]


@contextlib.contextmanager
def said_once():
    """While in this block, :func:`warn` says each text once, whoever gives it: a Ray run's (the driver's and each
    worker's, :func:`kept_warnings`), which a local run says once. Blocks open at the same time (nested, or in two
    threads) share one record, which is dropped when the last of them closes."""
    global _said, _said_depth
    with _state_lock:
        if _said_depth == 0:
            _said = set()
        _said_depth += 1
    try:
        yield
    finally:
        with _state_lock:
            _said_depth -= 1
            if _said_depth == 0:
                _said = None


class VidcolorWarning(UserWarning):
    """What a run did not keep or could not do and went on (an alpha channel dropped, a damaged tail, a skipped
    file), issued through :mod:`warnings` in a library call (:func:`warn`): a caller filters, records or raises it
    as any Python warning (``warnings.filterwarnings("ignore", category=VidcolorWarning)``, ``pytest.warns``,
    ``python -W error::vidcolor.errors.VidcolorWarning``)."""


def warn(text: str) -> None:
    """Say ``text``, its options named for the run's reader (:func:`worded`): while the CLI runs
    (:func:`cli_reader`), on stderr as one line, ``vidcolor: warning: <text>`` (on a line of its own where a progress
    bar is drawn: :meth:`tqdm.tqdm.write`); in a library call, as a
    :class:`VidcolorWarning` through :func:`warnings.warn`, so that the caller's warning filters decide whether and
    how it is shown (by default once per message and place, on stderr). It points at the caller's line that called
    into vidcolor (what Python 3.12's ``skip_file_prefixes`` does), or, from a thread of a run that has no such line,
    at vidcolor's line that called this. Kept instead inside :func:`kept_warnings`; said once inside
    :func:`said_once`."""
    with _state_lock:
        if _kept:
            _kept[-1].append(text)
            return
        if _said is not None:
            if text in _said:
                return
            _said.add(text)
    if _cli_reads:
        from tqdm import tqdm

        # the progress bar, where one is drawn, is cleared for the line and drawn again under it: a Ray run's joins
        # and its workers' warnings (said by the driver) come while its bar is drawn, and their line began after it
        tqdm.write(f"vidcolor: warning: {worded(text)}", file=sys.stderr)
    else:
        warnings.warn(worded(text), VidcolorWarning, stacklevel=_outside_level())


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


_THREAD_FILES = {os.path.abspath(threading.__file__)}
"""Files whose frames start a thread (:mod:`threading`): a run's own threads begin there, not in a caller's code."""


def _outside_level() -> int:
    """The ``stacklevel`` of :func:`warnings.warn` in :func:`warn` that names the first frame outside this package's
    files: the caller's line that called into vidcolor; 2, :func:`warn`'s caller, where every frame is inside it or
    the first outside one starts the thread (a pipeline stage's thread has no caller's line)."""
    frame, level = sys._getframe(2), 2          # _getframe(2): warn's caller, at stacklevel 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    if frame is None or os.path.abspath(frame.f_code.co_filename) in _THREAD_FILES:
        return 2
    return level


class VidcolorError(Exception):
    """Bad input or an unusable environment (missing file, not a video, no ffmpeg, unknown model).

    Its message (the first argument) names options with :func:`option`: ``str(error)`` and ``error.args`` name them
    as the library's parameters, :func:`cli_wording` as the CLI's flags; :attr:`marked` keeps the message as given,
    for an error that is built on it (``VidcolorError(f"{exc.marked}; nothing written")``)."""

    def __init__(self, *args):
        self.marked = args[0] if args and isinstance(args[0], str) else None
        if self.marked is not None:
            args = (_OPTION.sub(r"\1", self.marked), *args[1:])
        super().__init__(*args)


class UnreadableInput(VidcolorError):
    """An input file that cannot be read at all (not a video, damaged before its first frame): a folder run with
    ``--ignore-errors`` skips it with a warning."""


class DamagedInput(VidcolorError):
    """A video frame that cannot be decoded in the middle of a stream (damaged data): a run writes nothing, unless
    ``--ignore-errors`` skips such frames as ffmpeg does (:class:`~vidcolor.io.VideoReader`'s ``keep_going``)."""


def add_note(exc: BaseException, note: str) -> None:
    """Add ``note`` to ``exc``'s notes (``__notes__``, as :meth:`BaseException.add_note` of Python 3.11 does, which
    3.10 lacks): what a failed or interrupted run kept, which the CLI appends to its error or interrupted line and
    a traceback shows; its options (:func:`option`) named for the run's reader (:func:`worded`)."""
    exc.__notes__ = [*getattr(exc, "__notes__", ()), worded(note)]
