"""More of --executor ray (vidcolor.distributed), without a Ray cluster: what the driver does around the workers (the
work folder, its key, the summary), with Ray's part stood in for where it is needed (``import_ray``, ``_cluster``,
``_distribute``: segments written as empty files, their timings made up)."""
from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

from helpers import run_ffmpeg
from vidcolor import distributed
from vidcolor.distributed import JobSpec, process_clips, work_folder
from vidcolor.errors import VidcolorError
from vidcolor.io.writer import OutputExists


def no_job(**options):
    """A JobSpec's ``build`` that nothing calls here (the workers are stood in for)."""
    raise AssertionError("no worker runs in these tests")


SPEC = JobSpec(no_job, {"kind": "test"}, eight_bits="a test job processes frames at 8 bits")


@pytest.fixture(scope="module")
def film(tmp_path_factory, ffmpeg_exe) -> Path:
    """2 s of 48x32 video at 24 fps, a keyframe every 12 frames: 4 segments of 0.5 s, 12 frames each."""
    path = tmp_path_factory.mktemp("film") / "film.mp4"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=size=48x32:rate=24", "-t", "2", "-c:v", "libx264", "-preset",
               "ultrafast", "-pix_fmt", "yuv420p", "-x264-params", "keyint=12:min-keyint=12:scenecut=0", str(path))
    return path


class FakeRay:
    """What process_clips asks of the ``ray`` module before it hands the segments to ``_distribute``."""

    @staticmethod
    def cluster_resources() -> dict:
        return {"CPU": 2}


def stand_in_for_ray(monkeypatch, segment_seconds: float = 1.0, stop_after: int | None = None) -> list:
    """Ray stood in for: each segment 'takes' ``segment_seconds`` of made-up time on the workers (which the summary's
    seconds must be made of), written as an empty part; the join writes the output. ``stop_after``: the run is
    interrupted (KeyboardInterrupt) once that many segments are written. Returns the list of segment indices done."""
    done: list = []

    def distribute(ray, todo, plans, count, gpus, spec, progress, timings, join_ready, session):
        start = time.time() - 100
        for n, (plan, segment, part) in enumerate(todo):
            if stop_after is not None and n == stop_after:
                raise KeyboardInterrupt
            part.write_bytes(b"")
            done.append(segment.index)
            began = start + n * segment_seconds
            timings.append({"index": segment.index, "frames": segment.frames, "seconds": segment_seconds,
                            "began": began, "ended": began + segment_seconds, "node": "n", "part": str(part.absolute()),
                            "found": None, "received": began + segment_seconds})
        join_ready()

    def join(plan, encoding, container, overwrite):
        plan.clip.target.write_bytes(b"joined")

    monkeypatch.setattr(distributed, "import_ray", lambda: FakeRay)
    monkeypatch.setattr(distributed, "_cluster", lambda ray: contextlib.nullcontext())
    monkeypatch.setattr(distributed, "_distribute", distribute)
    monkeypatch.setattr(distributed, "_join", join)
    return done


def test_a_partly_reused_rerun_counts_the_frames_it_processed_in_their_own_time(tmp_path, film, monkeypatch):
    """A rerun that reused an earlier run's segments (here 1 of 4, 12 frames) gave all 48 frames over the whole call's
    seconds, Ray's start-up in them (on a real cluster: 192 frames in 12.3 s, 15.56 fps, no start-up; now 144 frames in
    1.8 s, 79.49 fps; 7.8 s start-up). Now, as a local folder run that resumes counts the outputs it wrote: the 36
    frames processed in this call, over the workers' time (3 segments of 1 s here), and the note says what was
    reused."""
    out = tmp_path / "out.mkv"
    stand_in_for_ray(monkeypatch, stop_after=1)
    with pytest.raises(KeyboardInterrupt):
        process_clips([(film, out)], SPEC, seconds=0.5, progress=False)
    assert len(list(work_folder(out).glob("segment-*"))) == 1
    done = stand_in_for_ray(monkeypatch)
    summary = process_clips([(film, out)], SPEC, seconds=0.5, progress=False)
    assert done == [1, 2, 3]
    assert summary.frames == 36 and not summary.joined_only
    assert summary.seconds == pytest.approx(3.0)
    assert summary.began is not None                # the start-up and finish are measured apart
    assert summary.note == "ray: 4 segment(s) on 2 worker(s), 1 reused from an earlier run (12 frames, not counted)"
    assert out.read_bytes() == b"joined"


def test_a_rerun_that_only_joins_still_counts_every_frame_joined(tmp_path, film, monkeypatch):
    """The other end: every segment reused, nothing processed (Ray not started): the joined frames, no rate, as
    before."""
    out = tmp_path / "out.mkv"
    stand_in_for_ray(monkeypatch)
    monkeypatch.setattr(distributed, "_join", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        process_clips([(film, out)], SPEC, seconds=0.5, progress=False)
    done = stand_in_for_ray(monkeypatch)
    summary = process_clips([(film, out)], SPEC, seconds=0.5, progress=False)
    assert done == [] and summary.frames == 48 and summary.joined_only
    assert summary.note == "ray: all 4 segment(s) were done already (by an earlier run)"


def test_a_work_folder_that_links_to_another_runs_is_refused_and_left(tmp_path, film, monkeypatch):
    """The work folder's name a symbolic link to another output's work folder (another key): its removal raised an
    uncaught OSError ('Cannot call rmtree on a symbolic link'; the CLI's 'internal error'). Now one line naming the
    link, and nothing of the other run's removed, the link left too."""
    stand_in_for_ray(monkeypatch)
    other = tmp_path / ".other.mkv.vidcolor-work"
    other.mkdir()
    (other / ("0" * 64)).touch()                    # the other run's key, and a segment of it
    (other / "segment-00000.nut").write_bytes(b"theirs")
    out = tmp_path / "out.mkv"
    work_folder(out).symlink_to(other.name)
    with pytest.raises(VidcolorError, match=r"^\S+/\.out\.mkv\.vidcolor-work: the work folder of out\.mkv is a link "
                       r"\(to \.other\.mkv\.vidcolor-work\) that holds no work of this run; vidcolor empties its work "
                       r"folder, not what a link points to: remove the link$"):
        process_clips([(film, out)], SPEC, seconds=0.5, progress=False)
    assert sorted(p.name for p in other.iterdir()) == ["0" * 64, "segment-00000.nut"]
    assert work_folder(out).is_symlink() and not out.exists()
    work_folder(out).unlink()                       # as the error says: the run then goes
    assert process_clips([(film, out)], SPEC, seconds=0.5, progress=False).frames == 48
    assert (other / "segment-00000.nut").read_bytes() == b"theirs"


def test_the_key_holds_the_bundled_weights_content_not_where_vidcolor_is_installed(tmp_path, monkeypatch):
    """The resume key held the bundled weight file's path (and modification time): the same command with a copy of
    vidcolor installed elsewhere, the same weights, started over. It holds their content now: the same weights in
    another folder give the same key, other weights another."""
    from vidcolor import api, weights
    from vidcolor.jobs import DEFAULTS
    from vidcolor.ray_work import job_files

    def installed(folder: str, data: bytes) -> str:
        bundled = tmp_path / folder
        bundled.mkdir()
        (bundled / weights.REGISTRY[DEFAULTS["dequantize"]]).write_bytes(data)
        monkeypatch.setattr(weights, "WEIGHTS_DIR", bundled)
        opts = {"model": None, "device": "cpu"}
        return JobSpec(api.build_job, {"kind": "dequantize", "options": opts}, {}, job_files("dequantize", opts),
                       eight_bits=None).key()

    here = installed("site-packages", b"weights")
    time.sleep(0.01)                                # (another modification time too)
    assert installed("elsewhere", b"weights") == here
    assert installed("retrained", b"other weights") != here


def test_a_work_folder_linked_back_with_this_runs_work_is_refused_not_left_for_good(tmp_path, film, monkeypatch):
    """A work folder moved away and linked back (it holds this run's key) was resumed, and at the end its removal
    (rmtree, errors ignored) could not remove a link: the link and the segments of the folder it names stayed for
    good. Every linked work folder is refused now (one line, nothing removed); moved back in place, it resumes."""
    out = tmp_path / "out.mkv"
    stand_in_for_ray(monkeypatch)
    monkeypatch.setattr(distributed, "_join", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        process_clips([(film, out)], SPEC, seconds=0.5, progress=False)
    monkeypatch.undo()
    moved = tmp_path / "elsewhere"
    work_folder(out).rename(moved)
    work_folder(out).symlink_to(moved)
    kept = sorted(p.name for p in moved.iterdir())
    done = stand_in_for_ray(monkeypatch)
    with pytest.raises(VidcolorError, match=r"^\S+/\.out\.mkv\.vidcolor-work: the work folder of out\.mkv is a link "
                       r"\(to \S+/elsewhere\) that holds work of this run; vidcolor removes its work folder when done, "
                       r"not what a link points to: move that folder in the link's place to resume, or remove the "
                       r"link$"):
        process_clips([(film, out)], SPEC, seconds=0.5, progress=False)
    assert sorted(p.name for p in moved.iterdir()) == kept and not out.exists() and done == []
    work_folder(out).unlink()
    moved.rename(work_folder(out))                  # as the error says: the run resumes, and leaves nothing
    assert process_clips([(film, out)], SPEC, seconds=0.5, progress=False).joined_only
    assert not work_folder(out).exists() and out.is_file()


def test_a_clip_left_to_another_run_is_not_counted_as_reused(tmp_path, film, monkeypatch):
    """Segments of an earlier run were counted twice over (a count of segments and a list of frames), and the note's
    counted those of a clip whose output another run wrote meanwhile (left, skip_existing), whose segments this run
    did not use: 'ray: 8 segment(s) on 2 worker(s), 1 reused from an earlier run (12 frames, not counted)' of a run
    whose one output came from 4 segments all processed here."""
    a, b = tmp_path / "a.mkv", tmp_path / "b.mkv"
    stand_in_for_ray(monkeypatch, stop_after=1)
    with pytest.raises(KeyboardInterrupt):
        process_clips([(film, a), (film, b)], SPEC, seconds=0.5, progress=False)
    assert len(list(work_folder(a).glob("segment-*"))) == 1 and not work_folder(b).exists()
    stand_in_for_ray(monkeypatch)
    joined = distributed._join

    def another_run_writes_a(plan, *rest):
        if plan.clip.target == a:
            a.write_bytes(b"theirs")
            raise OutputExists(f"{a} exists", a)
        joined(plan, *rest)

    monkeypatch.setattr(distributed, "_join", another_run_writes_a)
    summary = process_clips([(film, a), (film, b)], SPEC, seconds=0.5, progress=False, skip_existing=True)
    assert summary.note == "ray: 8 segment(s) on 2 worker(s)"
    assert (summary.frames, summary.skipped, a.read_bytes(), b.read_bytes()) == (48, 1, b"theirs", b"joined")
