"""Command line: a thin skin over :mod:`vidcolor.api` and :mod:`vidcolor.training`.

Bad input ends in one line on stderr (``vidcolor: error: ...``) and exit status 1, never a traceback.
Only video goes to stdout; logs and progress go to stderr.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import signal
import sys
import time
import traceback

import click
from click.core import ParameterSource

from vidcolor import __version__
from vidcolor.allocator import reuse_freed_memory
from vidcolor.device import parse_device
from vidcolor.errors import VidcolorError, cli_reader, cli_wording, warn
from vidcolor.jobs import (CRF_RANGE, DEFAULT_TILE, DEQUANTIZE_X264_PARAMS, MIN_TILE, RENDER_SIZE, RENDER_SIZE_RANGE,
                           TRAINABLE)
from vidcolor.names import check_named

STARTED = time.perf_counter()
"""When the command started (this module's import, before torch's): the summary line's start-up counts from here."""


class Terminated(BaseException):
    """Raised by the SIGTERM / SIGHUP handler so that every open output unwinds (and is removed) as for Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _FirstSignal:
    """The handler of SIGINT, SIGTERM and SIGHUP in a CLI run: the first of them stops the run (``KeyboardInterrupt``
    for SIGINT, :class:`Terminated` for the others); the next ones are ignored while it unwinds, as ffmpeg ignores
    them, up to :attr:`HARD_EXIT` of them, which end the process at once (one line, exit 128 + the signal; what
    was being removed may be left). A second Ctrl-C (an impatient user, or a terminal's Ctrl-C reaching vidcolor
    after the ffmpeg it waits for) raised a second KeyboardInterrupt inside the first one's clean-up: the partial
    output was left, and the exit status was SIGINT's own (-2), or a traceback 'Exception ignored in threading'
    followed the line."""

    HARD_EXIT = 3

    def __init__(self):
        self.received = 0

    def __call__(self, signum, frame):
        self.received += 1
        if self.received == 1:
            raise KeyboardInterrupt if signum == signal.SIGINT else Terminated(signum)
        if self.received > self.HARD_EXIT:
            os.write(2, f"vidcolor: {self.received} signals received, exiting at once\n".encode())
            os._exit(128 + signum)


def _noted(line: str, exc: BaseException) -> str:
    """``line`` with ``exc``'s notes after it (:func:`vidcolor.errors.add_note`: what a folder run that failed or
    was stopped kept), each after ``; ``."""
    return "; ".join([line, *getattr(exc, "__notes__", ())])


class _Group(click.Group):
    """Turns VidcolorError (and MemoryError) into one line + exit 1 (its options named by their flags,
    :func:`vidcolor.errors.cli_wording`: ``--crf`` where the library says ``crf``), Ctrl-C into exit 130, SIGTERM / SIGHUP (``timeout``,
    systemd, a closed terminal) into exit 128 + the signal number; partial outputs are removed, and the line says
    what a folder run kept (the exception's notes, :func:`_noted`). Usage errors (unknown option, bad value) are
    one line too, with exit status 2 as click gives them. Any other exception (a bug, torch's RuntimeError, an
    OSError mid-run) is one line too, :func:`internal_error`, exit 1, its traceback before it with
    ``VIDCOLOR_DEBUG=1``."""

    program = False
    """Whether this run is the process's command (``vidcolor ...``, ``python -m vidcolor.cli``: :meth:`main` called
    without arguments, reading ``sys.argv``) rather than a call from Python (``main.main(args=[...])``, click's
    ``CliRunner``)."""

    def main(self, *args, **kwargs):
        self.program = not args and kwargs.get("args") is None
        if sys.stderr is None:         # started with stderr closed (2>&-): messages and progress go nowhere
            sys.stderr = open(os.devnull, "w")
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:   # bare `vidcolor`: the help, as click shows it
            click.echo(exc.ctx.get_help(), err=True)
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "vidcolor"
            click.echo(f"vidcolor: error: {exc.format_message()} (see '{where} --help')", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"vidcolor: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("vidcolor: interrupted", err=True)
            sys.exit(130)

    def invoke(self, ctx):
        reuse_freed_memory()
        handler, replaced = _FirstSignal(), {}
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            # an ignored signal (nohup, a background job's SIGINT) stays ignored, and a handler of the caller's
            # (Python's own for SIGINT aside) is kept
            if signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler):
                replaced[sig] = signal.signal(sig, handler)
        try:
            return self._invoke(ctx)
        finally:
            # a call from Python gets its handlers back, so that its next Ctrl-C is its own again (the handler, left
            # in place, ignored it after an interrupted run); the process's command, stopping on a signal, keeps
            # ignoring the next ones up to its exit (threading's shutdown included)
            if not (self.program and handler.received):
                for sig, before in replaced.items():
                    signal.signal(sig, before)

    def _invoke(self, ctx):
        try:
            with cli_reader():         # the run's warnings and notes name the flags
                return super().invoke(ctx)
        except VidcolorError as exc:
            click.echo(_noted(f"vidcolor: error: {cli_wording(exc)}", exc), err=True)
            sys.exit(1)
        except KeyboardInterrupt as exc:
            click.echo(_noted("vidcolor: interrupted", exc), err=True)
            sys.exit(130)
        except Terminated as exc:
            click.echo(_noted(f"vidcolor: terminated ({signal.Signals(exc.signum).name})", exc), err=True)
            sys.exit(128 + exc.signum)
        except BrokenPipeError:        # as ffmpeg, which says so and fails: what was written is cut short
            click.echo("vidcolor: error: the reader of stdout closed it before the end (broken pipe): the output "
                       "is cut short", err=True)
            sys.exit(1)
        except (click.ClickException, click.exceptions.Exit, click.Abort):     # a subcommand's usage, --help: main's
            raise
        except Exception as exc:       # a batch or frame larger than the memory left (ulimit -v, a small machine), in
            if out_of_memory(exc):      # NumPy (MemoryError), torch or ONNX Runtime (their own errors)
                command = self.get_command(ctx, ctx.invoked_subcommand) if ctx.invoked_subcommand else None
                click.echo(_noted(f"vidcolor: error: out of memory{memory_advice(command)}", exc), err=True)
                sys.exit(1)
            # anything else (a bug, torch's RuntimeError, an OSError mid-run): one line, not Python's traceback;
            # the partial outputs were removed as the exception unwound, as for any error
            if debugging():
                traceback.print_exception(exc, file=sys.stderr)
            click.echo(_noted(internal_error(exc), exc), err=True)
            sys.exit(1)


DEBUG_VARIABLE = "VIDCOLOR_DEBUG"
"""The environment variable that shows an internal error's traceback (:func:`internal_error`) before its line."""


def debugging() -> bool:
    """Whether :data:`DEBUG_VARIABLE` is set to something other than empty or ``0``."""
    return os.environ.get(DEBUG_VARIABLE, "").strip() not in ("", "0")


def internal_error(exc: BaseException) -> str:
    """The CLI's line for an exception that is not a :class:`~vidcolor.errors.VidcolorError` (a bug in vidcolor or
    a library, an error of the system mid-run): ``vidcolor: error: internal error (RuntimeError: <its first line>);
    VIDCOLOR_DEBUG=1 shows the traceback``, one line however many lines the exception's message has (torch's have
    several: the first is kept, ``[...]`` marks the rest; at most 300 characters of it). Python's own traceback
    (40 lines and more) had been all a user saw."""
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    said = lines[0][:300] + (" [...]" if len(lines) > 1 or len(lines[0]) > 300 else "") if lines else ""
    where = "the traceback is above" if debugging() else f"{DEBUG_VARIABLE}=1 shows the traceback"
    return f"vidcolor: error: internal error ({name}{': ' + said if said else ''}); {where}"


OUT_OF_MEMORY = ("can't allocate memory", "out of memory", "failed to allocate memory", "bad_alloc")
"""How torch (its CPU allocator: 'DefaultCPUAllocator: can't allocate memory'; CUDA: 'CUDA out of memory') and ONNX
Runtime ('Failed to allocate memory for requested buffer') say that an allocation failed: as RuntimeError or ONNX
Runtime's own exception, not MemoryError, so the CLI printed their traceback (60 lines) instead of its one line."""


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation that failed: a MemoryError, or a RuntimeError or ONNX Runtime exception
    saying so (:data:`OUT_OF_MEMORY`)."""
    if isinstance(exc, MemoryError):
        return True
    runtime = isinstance(exc, RuntimeError) or type(exc).__module__.startswith("onnxruntime")
    return runtime and any(words in str(exc).lower() for words in OUT_OF_MEMORY)


MEMORY_OPTIONS = (("batch_size", "a smaller --batch-size"), ("tile", "--tile for large frames"),
                  ("render_size", "a smaller --render-size"))
"""A command's options that bound its memory (click parameter name, advice), in the order the advice names them.
eval's --max-frames is not one: eval reads frame by frame, its memory follows the frame size, not the count."""


def memory_advice(command: click.Command | None) -> str:
    """What to try after running out of memory, from the options ``command`` has (:data:`MEMORY_OPTIONS`):
    ``"; give a smaller --batch-size (or --tile for large frames)"`` for dequantize, ``"; give a smaller
    --batch-size (or a smaller --render-size)"`` for colorize (it has no --tile); empty for a command (or None)
    with none of them."""
    names = {p.name for p in getattr(command, "params", ())}
    advice = [text for name, text in MEMORY_OPTIONS if name in names]
    if not advice:
        return ""
    return f"; give {advice[0]}" + (f" (or {' or '.join(advice[1:])})" if len(advice) > 1 else "")


class FiniteRange(click.FloatRange):
    """click's :class:`~click.FloatRange` that also refuses ``nan`` and ``inf`` (which its bounds let through: NaN
    compares false with them, and a range without a maximum takes infinity), in click's words for the range
    (:meth:`described`)."""

    def convert(self, value, param, ctx):
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{rv} is not a finite number in the range {self.described()}.", param, ctx)
        return rv

    def described(self) -> str:
        """The range as click's help and its own refusal write it: ``0<=x<1``, ``x>=1``, ``x>0``; from the public
        bounds (``min``, ``max``, ``min_open``, ``max_open``), since click's own helper is private."""
        if self.min is None:
            return f"x{'<' if self.max_open else '<='}{self.max}"
        if self.max is None:
            return f"x{'>' if self.min_open else '>='}{self.min}"
        return f"{self.min}{'<' if self.min_open else '<='}x{'<' if self.max_open else '<='}{self.max}"


class TileSize(click.ParamType):
    """``--tile``: 0 (off) or at least :data:`vidcolor.jobs.MIN_TILE` pixels, refused otherwise as click refuses a
    range (click's ``IntRange(0)`` had shown ``[x>=0]`` in the help while the engine refused 1 to 95)."""

    name = "integer"

    def convert(self, value, param, ctx):
        rv = click.INT.convert(value, param, ctx)
        if rv != 0 and rv < MIN_TILE:
            self.fail(f"{rv} is not 0 (off) or at least {MIN_TILE}.", param, ctx)
        return rv


class DeviceName(click.ParamType):
    """``--device``: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (``cpu:N`` is the CPU), the values
    :func:`vidcolor.device.pick_device` takes as a str, written as torch writes them (``cuda:01``, ``CUDA`` and
    ``gpu`` are refused as torch refuses them); refused otherwise as click refuses a choice. Only the form is
    checked here, without torch: whether GPU N exists is :func:`~vidcolor.device.pick_device`'s to say when the
    job is built, and the Ray executor refuses an index (:func:`vidcolor.distributed.check_device`). (The option
    had offered auto, cpu and cuda alone, while the library took ``cuda:1``.)"""

    name = "device"

    def get_metavar(self, param, ctx=None):
        return "[auto|cpu|cuda|cuda:N]"

    def convert(self, value, param, ctx):
        if not isinstance(value, str) or parse_device(value) is None:
            self.fail(f"{value!r} is not auto, cpu, cuda or cuda:N (GPU N, from 0; torch's spelling).", param, ctx)
        return value


def _raw_size(ctx, param, value):
    if value is None:
        return None
    m = re.fullmatch(r"(\d+)x(\d+)", value)
    if not m or int(m[1]) == 0 or int(m[2]) == 0:
        raise click.BadParameter("expected WIDTHxHEIGHT, e.g. 640x360")
    return int(m[1]), int(m[2])


def _fps(ctx, param, value):
    """--fps checked now, before a model loads, as the exact rate it gives (:func:`vidcolor.io.reader.raw_rate`: an
    integer, a decimal or N/D, as ffmpeg's -r takes it; finite, not rounding to 0)."""
    if value is None:
        return None
    from vidcolor.io.reader import raw_rate

    try:
        return raw_rate(value)
    except VidcolorError as exc:
        raise click.BadParameter(cli_wording(exc).removeprefix("--fps ")) from None


TEN_BIT_PLAYS = ("10-bit H.264 (libx264 at yuv420p10le, High 10) does not play in browsers, QuickTime or on most "
                 "hardware decoders; 10-bit HEVC (libx265, Main10) plays on most.")
"""What --pix-fmt's help says of 10-bit output's players: why libx264 stays at yuv420p by default."""
PIX_FMT_HELP = {
    "dequantize": "Output chroma and depth: 8-bit 4:2:0 plays everywhere; 4:4:4 keeps the restored colour at full "
                  "resolution; 10 bits keep restored gradients from banding again (odd sizes: 4:4:4). " + TEN_BIT_PLAYS,
    "colorize": "Output chroma and depth: 8-bit 4:2:0 plays everywhere; 4:4:4 keeps the added colour at full "
                "resolution; 10 bits keep smooth gradients from banding in the encode (odd sizes: 4:4:4). "
                + TEN_BIT_PLAYS}
"""--pix-fmt's help, per job: colorize's had said dequantize's 'restored colour' and 'restored gradients'."""
PIX_FMT_HELP["colorize"] += ("  [default: yuv420p; from a source of more than 8 bits per sample, which colorize keeps "
                             "at 16 bits, yuv420p10le with libx265 and ffv1]")
PIX_FMT_DEFAULT = {"dequantize": "yuv420p", "colorize": None}
"""--pix-fmt's default, per job: colorize's None is :func:`vidcolor.api.process`'s choice, 10 bits for a source of
more than 8 (:func:`vidcolor.io.writer.default_pix_fmt`)."""

TEMPORAL_HELP = {
    "dequantize": "Smooth the colour (ab) over time: flow-aligned, plain moving average, or not at all (frames found "
                  "on uniform levels are not smoothed).",
    "colorize": "Smooth the colour (ab) over time: flow-aligned, plain moving average, or not at all."}
"""--temporal's help, per job: colorize's had carried dequantize's exception for uniform levels."""


def io_options(job: str):
    """Options shared by every job that reads and writes video, as a decorator of ``job``'s command; the few whose
    effect differs by job are worded for it (:data:`PIX_FMT_HELP`, :data:`TEMPORAL_HELP`)."""
    return lambda f: _with_io_options(f, job)


def _with_io_options(f, job: str):
    opts = [
        click.option("-o", "--output", metavar="PATH",
                     help="Output path, or - for stdout (not a terminal: redirect or pipe it). "
                     "Default, beside the input (<job>: dequantized or colorized): a video gives <stem>_<job>.mp4 "
                     "(an image sequence scan_%06d.dpx: scan_<job>.mp4) "
                     "(.mkv, .gif, .nut, .mov with --format), a still image <stem>_<job>.png (-o's suffix picks its "
                     "format), a folder <name>_<job>/ (one file per input). A folder as -o for a single input (one that exists, "
                     "or a name ending in /) gets that default name inside it. Missing folders on the way are created "
                     "(and removed again if the run fails). A clip's output may be numbered frames, out_%06d.tif "
                     "(.png, .dpx, .jpg): one file a frame, numbered as an input sequence (else from 1)."),
        click.option("--overwrite", is_flag=True,
                     help="Replace an existing output. A video is replaced once the new one is whole; an image "
                          "sequence's frames one by one as they are written, so a run that fails or is stopped "
                          "loses the earlier frames of the numbers it reached."),
        click.option("--skip-existing", is_flag=True,
                     help="Leave an input whose output exists: a folder's are not read (a folder run that failed or "
                          "was stopped keeps its finished outputs, so this does the rest); a file's run does "
                          "nothing. Not with --overwrite."),
        click.option("--device", type=DeviceName(), default="auto", show_default=True,
                     help="Where the network runs (auto: CUDA where torch can use a GPU, else the CPU; cuda: "
                          "torch's current GPU; cuda:N: GPU N, from 0, not with --executor ray, which gives each "
                          "worker a GPU of its own)."),
        click.option("--batch-size", type=click.IntRange(1), default=None,
                     help="Frames per forward pass (default: from the frame size and device, e.g. 4 at 640x360 on a CPU; "
                          "at most 64 megapixels a batch)."),
        click.option("--backend", type=click.Choice(["auto", "torch", "onnxruntime"]), default="auto", show_default=True,
                     help="Inference engine (auto: onnxruntime on a CPU, torch on CUDA, and torch for dequantize on a CPU "
                          "with native bf16; the model is exported to ONNX once and the graph cached in onnx/ under "
                          "$VIDCOLOR_CACHE, else $XDG_CACHE_HOME/vidcolor, else ~/.cache/vidcolor)."),
        click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto",
                     show_default=True, help="Network precision (auto: fp16 on CUDA, fp32 on the CPU, bf16 for dequantize on a CPU with "
                          "native bf16)."),
        click.option("--codec", type=click.Choice(["libx264", "libx265", "h264_nvenc", "hevc_nvenc", "ffv1", "prores"]),
                     default="libx264", show_default=True,
                     help="Video encoder: NVENC needs an NVIDIA GPU (--crf is then its -cq); ffv1 (lossless; .mkv, "
                          ".mov or .mp4, decoded by FFmpeg-based players) and prores (.mov or .mkv) are for archives."),
        click.option("--crf", type=click.IntRange(*CRF_RANGE), default=None,
                     help="Encoder quality, lower is better and larger (default: 14 for dequantize, whose finer "
                          "gradations an encode at 16 undoes, 16 otherwise)."),
        click.option("--preset", default="medium", show_default=True, metavar="NAME",
                     help="x264/x265 preset, ultrafast to placebo or 0-9 (x264 reads names in any case; NVENC: its own "
                          "names, e.g. p5)."),
        click.option("--tune", type=click.Choice(["grain", "film", "animation", "psnr", "ssim", "fastdecode",
                                                   "zerolatency", "stillimage"]),
                     help="x264/x265 tune (default: none; film and stillimage are x264's only; see "
                          "docs/dequantize_encode.md for grain)."),
        click.option("--x264-params", metavar="KEY=VALUE:...",
                     help="x264 options on top of the preset, as ffmpeg's -x264-params (default: none; dequantize with "
                          f"the default preset: {DEQUANTIZE_X264_PARAMS}, which runs x264 faster at the same fidelity; "
                          "'' for none)."),
        click.option("--no-audio", is_flag=True,
                     help="Drop the audio tracks (by default each is copied from the source, re-encoded only where "
                          "the output container cannot hold its codec; GIF output holds none, and a warning names "
                          "the input's that it leaves out, but not with --no-audio)."),
        click.option("--raw", "raw_size", callback=_raw_size, metavar="WxH",
                     help="Input is raw rgb24 frames of this size; give their rate with --fps."),
        click.option("--fps", callback=_fps, metavar="RATE",
                     help="Frame rate of --raw input (needed with it) and of an image sequence (default: a DPX header's "
                          "own, else 24, film's; other input carries its own), as ffmpeg's -r: 25, 29.97 (kept exact: 2997/100) or N/D "
                          "(30000/1001 for NTSC); 1/1001 to 1,000,000."),
        click.option("--format", "container", type=click.Choice(["nut", "matroska", "mp4", "mov", "gif"]),
                     help="Output container (default: from the suffix; nut on stdout; a suffix that names another is "
                          "refused). gif: one palette for the "
                          "whole clip, made in two passes through a temporary lossless copy of the frames beside the "
                          "output (about 220 KB a frame at 640x360, removed at the end)."),
        click.option("--pix-fmt", type=click.Choice(["yuv420p", "yuv444p", "yuv420p10le", "yuv444p10le"]),
                     default=PIX_FMT_DEFAULT[job], show_default=PIX_FMT_DEFAULT[job] is not None,
                     help=PIX_FMT_HELP[job]),
        click.option("--compare", is_flag=True, help="Write input | output side by side."),
        click.option("--temporal", type=click.Choice(["off", "ema", "flow"]), default="flow", show_default=True,
                     help=TEMPORAL_HELP[job]),
        click.option("--temporal-strength", type=FiniteRange(0, 1, max_open=True), default=0.6,
                     show_default=True, help="Weight of the previous frame's colour where the flow is reliable."),
        click.option("--ignore-errors", is_flag=True,
                     help="Keep the frames that decoded from a truncated or damaged file, and skip a folder's unreadable "
                          "images and clips (default: an error, nothing written)."),
        click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="local: this process; ray: split video files into segments at I-frames (codec keyframes) "
                          "and run them on a Ray cluster (RAY_ADDRESS, else a local one; pip install "
                          "'vidcolor[ray]'). Resumable."),
        click.option("--segment-seconds", type=FiniteRange(min=1), default=None,
                     help="--executor ray: target segment length in seconds (default 20; shorter for a clip too short to give every worker one)."),
        click.option("--workers", type=click.IntRange(1), default=None,
                     help="--executor ray: workers (Ray actors) to start (default: one per GPU, else per CPU)."),
        click.option("-q", "--quiet", is_flag=True,
                     help="No progress bar, no summary (warnings and errors are still said)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


GIVEN = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT, ParameterSource.PROMPT)
"""Where an option given by the user comes from (not its default)."""

ENCODER_SETTINGS = {"crf": ("libx264", "libx265", "h264_nvenc", "hevc_nvenc"),
                    "preset": ("libx264", "libx265", "h264_nvenc", "hevc_nvenc"),
                    "tune": ("libx264", "libx265"), "x264_params": ("libx264",)}
"""The encoder settings and the codecs that take them (:func:`vidcolor.io.writer.encoder_args`)."""

CODEC_TAKES = {"libx264": "which takes --crf, --preset, --tune and --x264-params",
               "libx265": "which takes --crf, --preset and --tune",
               "h264_nvenc": "which takes --crf (as its -cq) and --preset",
               "hevc_nvenc": "which takes --crf (as its -cq) and --preset",
               "ffv1": "which is lossless (no quality or speed settings)",
               "prores": "whose profile is fixed (422 HQ, 4444 at 4:4:4)"}

GIF_IGNORES = ("codec", "crf", "preset", "tune", "x264_params", "pix_fmt")
"""What GIF output has no use for: it is its frames alone, in one 256-colour palette. Not --no-audio: GIF holds no
audio, and a warning names the input's that is left out, which --no-audio drops as asked, without a word."""

STILL_IGNORES = ("codec", "crf", "preset", "tune", "x264_params", "pix_fmt", "container", "no_audio", "temporal",
                 "temporal_strength", "batch_size")
"""What a still image has no use for: it is written as an image (its format from the output's name), on its own."""


SEQUENCE_IGNORES = ("crf", "preset", "x264_params")
"""The video encoder's settings with defaults that an image sequence's frames (``-o out_%06d.png``, written by their
suffix's encoder) have no use for: a warning where given (the library refuses the others, which it tells from their
defaults, :func:`~vidcolor.checks.check_sequence_output`)."""


def _given(ctx: click.Context, *names: str) -> list[str]:
    """The options among ``names`` (click parameter names) that the user gave, not left at their defaults."""
    return [n for n in names if ctx.get_parameter_source(n) in GIVEN]


def _spelled(ctx: click.Context, names: list[str]) -> str:
    """``--crf``, ``--crf and --tune``, ``--codec, --crf and --tune``: the options as given (a flag pair by the
    side given: ``--keep-luminance``)."""
    opts = []
    for name in names:
        param = next(p for p in ctx.command.params if p.name == name)
        side = param.secondary_opts if param.secondary_opts and ctx.params.get(name) is False else param.opts
        opts.append(max(side, key=len))
    return opts[0] if len(opts) == 1 else f"{', '.join(opts[:-1])} and {opts[-1]}"


def _refuse(ctx: click.Context, names: list[str], why: str) -> None:
    """Options that the rest of the command line leaves without effect: an error (see :func:`_check_given`)."""
    if names:
        raise VidcolorError(f"{_spelled(ctx, names)} {'does' if len(names) == 1 else 'do'} not apply {why}; "
                            f"drop {'it' if len(names) == 1 else 'them'}")


def _ignore(ctx: click.Context, names: list[str], why: str) -> None:
    """Options that the input leaves without effect: a warning (see :func:`_check_given`)."""
    if names:
        click.echo(f"vidcolor: warning: {_spelled(ctx, names)} {'does' if len(names) == 1 else 'do'} not apply "
                   f"{why}; ignored", err=True)


def _check_terminal(input: str, output: str | None) -> None:
    """Binary video to or from a terminal is refused, as gzip refuses it. ``-o -`` on a terminal wrote garbage that
    can leave it in a strange state; ``-`` as input on a terminal waited, silently, for video typed in. The user
    meant a redirect or a pipe."""
    if output == "-" and sys.stdout is not None and sys.stdout.isatty():
        raise VidcolorError("-o -: stdout is a terminal, and the output is binary video; redirect it (> out.nut) or "
                            "pipe it (| ffplay -)")
    if input == "-" and sys.stdin is not None and sys.stdin.isatty():
        raise VidcolorError("-: stdin is a terminal, and the input is binary video; pipe it in "
                            "(ffmpeg -i in.mkv -c:v ffv1 -f nut - | vidcolor ...) or redirect it (< in.nut)")


def _check_given(ctx: click.Context, input: str, kw: dict) -> None:
    """An option given that cannot have an effect is named, by one rule: an error where the rest of the command line
    rules it out, whatever the input (--crf with --codec ffv1 or GIF output, --temporal-strength with --temporal
    off, --fps without --raw, --segment-seconds without --executor ray; colorize's own in :func:`colorize`); a
    warning where the input does, and the run goes on as without it (encoder, container, audio, smoothing and
    batch options on a still image or a folder of stills alone, --no-audio on input that has no audio), since the
    same command line applies them to other inputs (a folder's clips, the next file of a script). Permissions
    (--overwrite, --ignore-errors) are not settings: one with nothing to allow is not named. Checked before any
    work, from click's parameter sources (an option left at its default is not given). --skip-existing with
    --overwrite is an error: one keeps the outputs that exist, the other replaces them."""
    from pathlib import Path

    from vidcolor.checks import check_executor_options, check_fps_given
    from vidcolor.io.folders import folder_contents
    from vidcolor.io.paths import check_input
    from vidcolor.io.sequences import frames_named, is_sequence
    from vidcolor.io import is_animated, is_still_image

    check_fps_given(kw["fps"], kw["raw_size"], input)
    check_executor_options(kw["executor"], kw["segment_seconds"], kw["workers"])
    output, container = kw["output"], kw["container"]
    named_gif = container is None and output not in (None, "-") and Path(output).suffix.lower() == ".gif"
    if container == "gif" or named_gif:
        _refuse(ctx, _given(ctx, *GIF_IGNORES), "to GIF output, its frames alone in one 256-colour palette")
    else:
        _refuse(ctx, [n for n in _given(ctx, *ENCODER_SETTINGS) if kw["codec"] not in ENCODER_SETTINGS[n]],
                f"to --codec {kw['codec']}, {CODEC_TAKES[kw['codec']]}")
    if kw["temporal"] == "off":
        _refuse(ctx, _given(ctx, "temporal_strength"), "with --temporal off")
    if kw["overwrite"]:
        _refuse(ctx, _given(ctx, "skip_existing"), "with --overwrite, which replaces the outputs that exist")
    check_input(input)                 # the input's own checks below need it (and its error comes before a warning)
    if kw["executor"] != "local":      # the Ray executor takes video files alone, and says so
        return
    if output is not None and is_sequence(output):     # the library cannot tell these from their defaults
        _ignore(ctx, _given(ctx, *SEQUENCE_IGNORES), f"to {frames_named(output)}")
    raw = input == "-" or kw["raw_size"] is not None
    if not raw and Path(input).is_dir():
        stills, clips = folder_contents(input)
        if stills and not clips:
            _ignore(ctx, _given(ctx, *STILL_IGNORES),
                    f"to {input}, a folder of still images alone, each written as an image on its own")
    elif not raw and is_still_image(input):
        _ignore(ctx, _given(ctx, *STILL_IGNORES), f"to {input}, a still image, written as an image on its own")
    elif kw["raw_size"] is not None or (input != "-" and is_animated(input)):   # stdin's audio is named as dropped
        _ignore(ctx, _given(ctx, "no_audio"), f"to {'stdin' if input == '-' else input}, which has no audio to copy")


def _io_kwargs(kw: dict) -> dict:
    keys = ("device", "batch_size", "backend", "precision", "codec", "crf", "preset", "tune", "x264_params",
            "overwrite", "skip_existing", "raw_size", "fps", "container", "compare", "pix_fmt", "temporal", "temporal_strength",
            "executor", "segment_seconds", "workers")
    job_defaults = ("crf", "x264_params")         # None: the job's own (vidcolor.jobs.JOBS)
    return dict({k: kw[k] for k in keys if kw[k] is not None or k not in job_defaults}, audio=not kw["no_audio"],
                progress=not kw["quiet"], ignore_errors=kw["ignore_errors"])


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Exit status: 0 done; 1 an error, said in one line on stderr (vidcolor: error: and why; an "
                    "internal error, a bug or a failure of the system mid-run, says so, and VIDCOLOR_DEBUG=1 shows "
                    "its traceback before the line); 2 a "
                    "usage error (an unknown option, a value out of its range); 128 + N stopped by signal N (130 "
                    "Ctrl-C, 143 SIGTERM, 129 SIGHUP), partial outputs removed.")
@click.version_option(__version__, prog_name="vidcolor")
def main():
    """Dequantize and colorize video with trained generator networks."""


@main.command(short_help="Restore fine colour to coarsely quantized video or images.")
@click.argument("input")
@io_options("dequantize")
@click.option("--model", default=None, metavar="NAME|PATH",
              help="Bundled model name, .safetensors path or exported .onnx (default: dequantize-fq-l2, see vidcolor/weights/).")
@click.option("--restore-luminance/--keep-luminance", default=None,
              help="Also correct L (default: as the model was trained) or keep the source L (Pix2Pix-FQ paper mode).")
@click.option("--consistency/--no-consistency", default=True, show_default=True,
              help="Keep every pixel inside the quantization cell of its input (the clip's quantizer is estimated; "
                   "footage with none found passes unchanged), or take the generator's output as it is.")
@click.option("--tile", type=TileSize(), default=None, metavar="PIXELS",
              help="Run the generator tile by tile on frames with a longer side, so that memory stays bounded at any "
                   f"size (default {DEFAULT_TILE}): 0 (off) or >= {MIN_TILE}.")
def dequantize(input, model, restore_luminance, consistency, tile, **kw):
    """Restore finely quantized colour to coarsely quantized INPUT (video, image, folder, or - for stdin)."""
    from vidcolor.api import dequantize as run_dequantize
    from vidcolor.io.folders import one_listing
    from vidcolor.jobs import DEFAULTS

    _check_terminal(input, kw["output"])
    with one_listing():                     # a folder input is listed once, for the checks and the run
        _check_given(click.get_current_context(), input, kw)
        summary = run_dequantize(input, kw["output"], model=DEFAULTS["dequantize"] if model is None else model,
                                 restore_luminance=restore_luminance, consistency=consistency,
                                 **({} if tile is None else {"tile": tile}), **_io_kwargs(kw))
    if not kw["quiet"]:
        click.echo(f"vidcolor: {summary.timed_from(STARTED)}", err=True)


KEYFRAMES = "\0keyframes"
"""``--reference``'s value when it is given without an image (no argument can hold a NUL byte), so that an
empty path (``--reference "$UNSET"``) is told apart from the keyframe mode."""


class _Colorize(click.Command):
    """``colorize``: ``vidcolor colorize --reference film.mp4`` (keyframes meant, options first) gave the film to
    ``--reference`` as its image, then said only "Missing argument 'INPUT'"; the line now says where it went."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.MissingParameter as exc:
            took = [r for r in ctx.params.get("references") or () if r not in ("", KEYFRAMES)]
            if exc.param is None or exc.param.name != "input" or not took:
                raise
            from vidcolor.io.reader import VIDEO_SUFFIXES

            last = took[-1]
            if not (os.path.isdir(last) or os.path.splitext(last)[1].lower() in VIDEO_SUFFIXES):
                raise
            raise click.UsageError(f"Missing argument 'INPUT': --reference took {last} as its colour image; for "
                                   f"keyframes give the input first: colorize {last} --reference", ctx) from None


@main.command(cls=_Colorize, short_help="Colour black-and-white video or images.")
@click.argument("input")
@io_options("colorize")
@click.option("--model", default=None, metavar="NAME|PATH",
              help="Bundled model name, .safetensors path or exported .onnx (default: colorize-effnet-video; with "
                   "--reference: colorize-exemplar, whose .safetensors it needs).")
@click.option("--reference", "references", multiple=True, is_flag=False, flag_value=KEYFRAMES, metavar="[IMG]",
              help="Colour reference image: colours follow it where the content matches. Repeat for several. "
                   "Without an image (keyframes): each scene's keyframe is colorized automatically and its colours "
                   "are carried through the scene.")
@click.option("--reference-mode", type=click.Choice(["fast", "internal"]), default="fast", show_default=True,
              help="fast: exemplar-guided network (streams); internal: train seed 002's two-image GAN on the "
                   "reference and the first frame now, then colour every frame with it.")
@click.option("--internal-iters", type=click.IntRange(1), default=2000, show_default=True,
              help="internal mode: iterations per scale (the paper's 2000 take hours on a CPU; see README).")
@click.option("--internal-size", type=click.IntRange(32), default=256, show_default=True,
              help="internal mode: longer side (pixels) of the images it trains and colours at.")
@click.option("--save-model", type=click.Path(dir_okay=False), help="internal mode: save the trained generators here.")
@click.option("--load-model", type=click.Path(dir_okay=False),  # a missing file: vidcolor's line, as --reference's
              help="internal mode: reuse generators saved by --save-model (no training, no --reference needed).")
@click.option("--render-size", type=click.IntRange(*RENDER_SIZE_RANGE), default=RENDER_SIZE, show_default=True,
              help="Shorter side (pixels) of the frame the network sees; colour is upsampled, L stays full size. Above the "
                   "frame's shorter side it upsizes the frame: slower, no more detail (warned).")
@click.option("--saturation", type=FiniteRange(0), default=None,
              help="Scale the predicted colour (1.4 = +40%; default: the model's, see its card).")
@click.option("--temperature", type=FiniteRange(0, min_open=True), default=None,
              help="Annealed-mean temperature of bin models: lower is more colourful (default: the model's).")
@click.option("--blur", is_flag=True, help="Gaussian-blur (5, 0.7) the luminance the network sees.")
@click.option("--equalize", is_flag=True, help="Histogram-equalize the luminance the network sees.")
def colorize(input, model, references, reference_mode, internal_iters, internal_size, save_model, load_model,
             render_size, saturation, temperature, blur, equalize, **kw):
    """Colour black-and-white INPUT (video, image, folder, or - for stdin); colour input is reduced to gray first, with a warning."""
    from vidcolor.api import colorize as run_colorize
    from vidcolor.io.folders import one_listing

    _check_terminal(input, kw["output"])
    if "" in references:                     # --reference "$UNSET": not the keyframe mode
        raise click.BadParameter("an empty path; give an image, or --reference alone for keyframes",
                                 param_hint="'--reference'")
    ctx = click.get_current_context()
    if KEYFRAMES in references:              # --reference without an image
        if len(references) > 1 or _given(ctx, "reference_mode"):
            raise click.UsageError("--reference without an image (keyframes) goes alone: no images, no --reference-mode")
        references, reference_mode = (), "keyframes"
    elif not references and reference_mode == "fast":
        _refuse(ctx, _given(ctx, "reference_mode"), "without a --reference image (the colours are then automatic)")
    if reference_mode != "internal":
        _refuse(ctx, _given(ctx, "internal_iters", "internal_size"), "without --reference-mode internal")
    else:
        _refuse(ctx, _given(ctx, "render_size"), "to --reference-mode internal, which colours at --internal-size")
        if load_model is not None:
            _refuse(ctx, _given(ctx, "references", "internal_iters", "internal_size"),
                    "with --load-model: nothing is trained, the saved pair and its size are used")
    with one_listing():                     # a folder input is listed once, for the checks and the run
        _check_given(ctx, input, kw)
        summary = run_colorize(input, kw["output"], model=model, render_size=render_size, saturation=saturation,
                               temperature=temperature, blur=blur, equalize=equalize, references=list(references),
                               reference_mode=reference_mode, internal_iters=internal_iters,
                               internal_size=internal_size, save_model=save_model, load_model=load_model,
                               **_io_kwargs(kw))
    if not kw["quiet"]:
        click.echo(f"vidcolor: {summary.timed_from(STARTED)}", err=True)


@main.group(short_help="Train the bundled models from a recipe in train/.")
def train():
    """Train the bundled models from a recipe in train/."""


DATA_GIVE = "give a folder of photos or a pack, or leave --data out for the recipe's"
"""What an empty ``--data`` of train and train pack is told to give (:func:`~vidcolor.names.check_named`)."""


def _train_command(job: str):
    """``vidcolor train JOB RECIPE``: the same options for every job; the recipe class and loop come
    from ``vidcolor.training``."""

    article = "an" if job[0] in "aeiou" else "a"

    @train.command(job, help=f"Train {article} {job} generator from RECIPE (TOML); resumable: Ctrl-C, SIGTERM or SIGHUP "
                             f"saves the step the run stops at (after the step in progress; a second signal stops at "
                             f"once), and the same command resumes it.",
                   short_help=f"Train {article} {job} generator from a recipe; resumable.")
    @click.argument("recipe", type=click.Path(exists=True, dir_okay=False))
    @click.option("--out", "out_dir", default=None, metavar="FOLDER",
                  help="Run folder (default: runs/<name>). Resumes from its checkpoint.")
    @click.option("--steps", type=click.IntRange(1), default=None, help="Override the recipe's step count; its schedule's "
                  "step marks (decay_from, unfreeze_at) move in proportion.")
    @click.option("--data", default=None, metavar="FOLDER",
                  help="Override the recipe's photo folder, or give a pack (vidcolor train "
                  "pack): its photos, clip frames and split.")
    @click.option("--fresh", is_flag=True, help="Start over: the run folder's checkpoint, weight file and loss curve "
                  "are removed when the run starts (its logs are rewritten).")
    @click.option("--device", type=DeviceName(), default="auto", show_default=True,
                  help="Where the networks train (auto: CUDA when a GPU is usable; cuda:N: GPU N, from 0). A "
                       "checkpoint resumes on either.")
    def command(recipe, out_dir, steps, data, fresh, device):
        from pathlib import Path

        from vidcolor.device import pick_device
        from vidcolor.io.partial import blocked_way, check_way
        from vidcolor.jobs import training_loop
        from vidcolor.training.run import CheckpointError, RecipeError, RunFolderInUse, TrainingDiverged

        check_named(out_dir, "--out", "give a folder, or leave --out out for runs/<recipe's name>")
        check_named(data, "--data", DATA_GIVE)      # was the recipe's 'data must name ...', naming no --data
        recipe_cls, train_fn = training_loop(job)
        try:
            r = recipe_cls.from_toml(recipe)
            r = dataclasses.replace(r.with_steps(steps or r.steps), data=r.data if data is None else data)  # checked again
        except (ValueError, TypeError) as exc:
            raise VidcolorError(f"bad recipe: {exc}") from None
        run_dir = f"runs/{r.name}" if out_dir is None else out_dir
        # a file there, or on the way, said 'img.png: File exists' ('img.png/run: Not a directory') once torch and
        # the training modules had loaded
        if os.path.lexists(run_dir) and not os.path.isdir(run_dir):   # a file, a symbolic link to nothing
            raise VidcolorError(f"{blocked_way(Path(run_dir, 'run'))}; the run's folder (--out) holds its checkpoint, "
                                "weights and logs: give a folder")
        check_way(run_dir)                                                          # missing folders are made
        try:
            weights = train_fn(r, run_dir, resume=not fresh,
                               progress=lambda msg: click.echo(msg, err=True), device=pick_device(device))
        except RecipeError as exc:     # named with its file (and the --data it was given) as a value of it is
            raise VidcolorError(f"bad recipe: {recipe}{f' with --data {data}' if data else ''}: {exc}") from None
        except CheckpointError as exc:
            raise VidcolorError(f"{exc}; give another --out, or --fresh to start over") from None
        except (RunFolderInUse, TrainingDiverged) as exc:  # another run trains there; a NaN loss or weight
            raise VidcolorError(str(exc)) from None
        except OSError as exc:         # the run folder or a file in it cannot be written (read-only, disk full)
            if exc.filename is None:
                raise
            raise VidcolorError(f"{exc.filename}: {exc.strerror or exc}") from None
        click.echo(f"vidcolor: weights written to {weights}", err=True)

    return command


for _name in TRAINABLE:
    _train_command(_name)


@train.command("pack", short_help="Write a recipe's training images into a pack folder.")
@click.argument("recipe", type=click.Path(exists=True, dir_okay=False))
@click.argument("out", type=click.Path())
@click.option("--data", default=None, metavar="FOLDER", help="Override the recipe's photo folder.")
@click.option("--max-mb", type=click.FloatRange(0, min_open=True), default=15.0, show_default=True,
              help="The images' total size at most (MB); a seeded random share of the training images is kept to fit. "
                   "A lent GPU machine receives at most 64 MiB with the repository (about 41 of them).")
@click.option("--short-side", type=click.IntRange(16), default=160, show_default=True,
              help="Downscale each image to at most this many pixels on its shorter side (at least the recipe's crop).")
@click.option("--quality", type=click.IntRange(1, 100), default=80, show_default=True, help="WebP quality.")
def pack_cmd(recipe, out, data, max_mb, short_side, quality):
    """Write RECIPE's training images (its photos and training-clip frames) and held-back photos, downscaled and
    re-encoded, into the new folder OUT: a pack, to train from where ../shared/data is not
    (`vidcolor train colorize RECIPE --data OUT`, on a GPU machine). The recipe's holdout split is made here;
    training from the pack reads no video."""
    from vidcolor.training.pack import write_pack
    from vidcolor.training.run import Recipe

    from vidcolor.jobs import training_loop

    check_named(data, "--data", DATA_GIVE)
    try:                            # a key no job's recipe has (a misspelling): refused, as training would refuse it
        r = Recipe.from_toml(recipe, others={k for job in TRAINABLE for k in training_loop(job)[0].__dataclass_fields__})
        r = dataclasses.replace(r, data=r.data if data is None else data)          # '' refused above
    except (ValueError, TypeError) as exc:
        raise VidcolorError(f"bad recipe: {exc}") from None         # which names the file
    max_bytes = round(max_mb * 1e6)
    try:
        record = write_pack(r, out, max_bytes, short_side, quality,
                            progress=lambda msg: click.echo(f"vidcolor: {msg}", err=True))
    except (ValueError, TypeError) as exc:
        raise VidcolorError(_pack_refusal(str(exc), recipe, out, data, max_mb, max_bytes)) from None
    except OSError as exc:          # OUT cannot be made (a read-only folder, /proc), an image cannot be read
        if exc.filename is None:
            raise
        where = out if str(exc.filename).startswith(str(out)) else exc.filename        # its OUT.partial: OUT
        raise VidcolorError(f"{where}: cannot write there ({exc.strerror or exc})" if where == out else
                            f"{where}: {exc.strerror or exc}") from None
    click.echo(f"vidcolor: packed {record['kept']} of {record['of']} training images and {len(record['held_back'])} "
               f"held-back photos ({record['bytes'] / 1e6:.1f} MB) into {out}", err=True)


def _pack_refusal(message: str, recipe: str, out: str, data: str | None, max_mb: float, max_bytes: int) -> str:
    """:func:`~vidcolor.training.pack.write_pack`'s refusal in the CLI's words: said of OUT as it is (``pk exists:
    give a new folder``); else of the recipe (and --data), its options named by their flags: ``cannot pack r.toml:
    --max-mb 0.001 does not hold even the 10 held-back photos``. The line had been ``bad recipe or pack: ...``
    whatever was refused (an OUT that exists too), and named ``max_bytes (1000)`` and ``short_side``, which the
    CLI's user never gave."""
    if message.startswith(f"{out} "):
        return message
    for said, flag in ((f"max_bytes ({max_bytes})", f"--max-mb {max_mb:g}"), ("short_side (", "--short-side ("),
                       ("quality (", "--quality ("), ("smaller short_side", "smaller --short-side")):
        message = message.replace(said, flag)
    return f"cannot pack {recipe}{f' with --data {data}' if data else ''}: {message}"


@main.command("export", short_help="Export a model to an ONNX graph.")
@click.argument("model")
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
def export_cmd(model, output, overwrite):
    """Export MODEL (bundled name or .safetensors) to an ONNX graph OUTPUT, a file named .onnx (runs with --backend
    onnxruntime); its missing folders are created.

    The graph takes any batch, and frame heights and widths that are multiples of the network's stride (32 for
    the bundled models, said on exit and kept in the graph's metadata as vidcolor_stride): vidcolor pads any
    frame to them; in your own ONNX Runtime code, pad it yourself. Its inputs are named as the weight file's
    arch declares (frame, level_cue, keys, values) and the arch is kept in its metadata, so OUTPUT can be given
    as --model; not an exemplar model's (colorize-exemplar): the reference mode runs its reference encoder too,
    which is not in the graph, and takes the weight file (a warning says so).
    """
    from pathlib import Path

    from vidcolor.engine import export_onnx, stride_multiple
    from vidcolor.io.partial import check_way
    from vidcolor.io.writer import check_target, removing_made_folders
    from vidcolor.weights import load_generator

    check_named(output, "output", "give an .onnx file's name")         # MODEL '': weights.resolve says so
    if not output.endswith(".onnx"):
        raise VidcolorError(f"{output}: the output of export is an .onnx file")
    if model.endswith(".onnx"):
        raise VidcolorError(f"{model}: an ONNX graph already; export takes a bundled model name or a .safetensors "
                            "weight file (a graph is given to the jobs as --model as it is)")
    check_target(Path(output), overwrite)
    check_way(Path(output))                                                   # missing folders are created, as -o's
    module, arch = load_generator(model)
    with removing_made_folders(Path(output).parent):
        export_onnx(module, arch, output, overwrite)
    click.echo(f"vidcolor: {model} -> {output} (frames: any batch; height and width multiples of "
               f"{stride_multiple(arch)}, to which vidcolor pads)", err=True)
    if arch.get("job") == "colorize-reference":
        warn(f"{output} holds the exemplar colorizer without its reference encoder: vidcolor's reference mode "
             f"cannot run it (--model {output} is refused); give it the weight file, --model {model}")


@main.command("eval", short_help="Score an output against its ground truth.")
@click.argument("output")
@click.option("--reference-video", "reference", required=True, metavar="GT",
              help="Ground truth: video, image or folder of images, same frame size as OUTPUT.")
@click.option("--input", "input_", metavar="INPUT", help="Also score the pipeline's input (a second column).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of the table (infinite values as null).")
@click.option("--max-frames", type=click.IntRange(1), default=None,
              help="Use only the first N frames (memory does not depend on it: frames are read one at a time).")
@click.option("--no-features", is_flag=True, help="Skip the EfficientNet-Lite0 Frechet distance (no model load).")
def eval_cmd(output, reference, input_, as_json, max_frames, no_features):
    """Score OUTPUT (video, image or folder of images) against the ground truth.

    Prints PSNR, MSE, MAE, SSIM, pixel accuracy (all channels within 5% = 12.75 levels), CIEDE2000,
    colourfulness (Hasler & Suesstrunk 2003) with its gap and ratio to the ground truth, a Frechet
    distance on pooled EfficientNet-Lite0 features, and warp error and CDC for clips of 2+ frames.
    The Frechet distance is FID-style but not the Inception FID: its numbers compare only with other
    runs of this command on the same number of frames. Frames are paired by position, and when frame
    counts differ the first frames in common are compared; between two folders, the images of the same
    name. A warning (stderr, table, JSON) says when two videos' frame rates or first frames' timestamps
    do not match.
    """
    from vidcolor.evaluate import evaluate, format_table, to_json

    result = evaluate(output, reference, input=input_, max_frames=max_frames, features=not no_features)
    for warning in result["warnings"]:                  # also in the table and the JSON
        click.echo(f"vidcolor: warning: {warning}", err=True)
    click.echo(to_json(result) if as_json else format_table(result))


if __name__ == "__main__":
    main()
