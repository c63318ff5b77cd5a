"""The one error type for bad user input; the CLI turns it into one line and exit code 1.

A message names an option for both of its readers (:func:`option`): a library caller reads the keyword parameter
(``crf``, ``skip_existing``), a CLI user the flag (``--crf``, ``--skip-existing``; :func:`cli_wording`)."""
from __future__ import annotations

import re

_OPTION = re.compile("\x00([^\x00\x01]*)\x01([^\x00]*)\x00")
"""An option marked in a message by :func:`option`: its library name, then its CLI flag."""


def option(name: str, flag: str | None = None) -> str:
    """An option as a :class:`VidcolorError`'s message names it: ``name``, the library's keyword parameter
    (``batch_size``; with its value, ``executor='ray'``), which ``str(error)`` reads, and ``flag``, the CLI's, which
    the CLI's line reads (:func:`cli_wording`); by default ``--`` and ``name`` with ``-`` for ``_`` (``--batch-size``),
    then the value (``--executor ray``). Outside such a message the returned text is meant for neither reader."""
    if flag is None:
        key, _, value = name.partition("=")
        flag = "--" + key.replace("_", "-") + (" " + value.strip("'") if value else "")
    return f"\x00{name}\x01{flag}\x00"


def cli_wording(exc: BaseException) -> str:
    """``exc``'s message as the CLI says it: the options that :func:`option` marked in it by their flags (``--crf``
    where ``str(exc)`` reads ``crf``); any other exception's ``str``."""
    marked = getattr(exc, "marked", None)
    return str(exc) if marked is None else _OPTION.sub(r"\2", marked)


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
    a traceback shows."""
    exc.__notes__ = [*getattr(exc, "__notes__", ()), note]
