"""vidcolor.engine: named inputs, padding, torch and ONNX Runtime engines agreeing, export, precisions."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import TINY_GENERATOR, invoke_cli, mosaic, run_cli, vidcolor_warnings
from vidcolor.engine import (OnnxEngine, TorchEngine, crop_output, export_onnx, fold_batchnorm, load_engine,
                             network_inputs, pad_frame, read_onnx_arch, resolve_precision, stride_multiple,
                             upsample_in_fp32)
from vidcolor.errors import VidcolorError
from vidcolor.models import ExemplarColorizer, UNetGenerator
from vidcolor.cue import level_cue
from vidcolor.pipeline import Dequantizer
from vidcolor.weights import save_generator

ONNX_TOLERANCE = 1e-4
"""Largest difference allowed between ONNX Runtime's and torch's fp32 outputs (network units, ~[-1, 1])."""

CPU = "cpu"


def _randomize(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every parameter random (an untrained generator is the identity, which any engine would get right)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    return model.eval()


@pytest.fixture(scope="module")
def random_unet(tmp_path_factory):
    """A Pix2Pix-FQ-shaped U-Net (level cue and phase inputs) with random weights, saved as fp32 safetensors."""
    kwargs = dict(TINY_GENERATOR, in_channels=3, out_channels=3, use_phase=True)
    model = _randomize(UNetGenerator(**kwargs), 0)
    arch = {"family": "unet", "kwargs": kwargs, "mode": "lab", "job": "dequantize"}
    path = tmp_path_factory.mktemp("engine") / "random-unet.safetensors"
    save_generator(model, path, arch, half=False)
    return path, model, arch


def _feeds(rng, n, h, w):
    frames = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    return {"frame": rng.uniform(-1, 1, (n, 3, h, w)).astype(np.float32), "level_cue": level_cue(frames)}


def test_network_inputs_follow_the_arch():
    assert network_inputs({"family": "unet", "kwargs": {"use_histogram": True}}) == ("frame", "level_cue")
    assert network_inputs({"family": "unet", "kwargs": {"use_histogram": False}}) == ("frame",)
    assert network_inputs({"family": "effnet_unet", "kwargs": {}}) == ("frame",)
    assert network_inputs({"family": "exemplar", "kwargs": {}}) == ("frame", "keys", "values")
    assert network_inputs({"family": "unet", "inputs": ["frame"], "kwargs": {"use_histogram": True}}) == ("frame",)


def test_stride_multiple_counts_the_space_to_depth_factor():
    assert stride_multiple({"family": "unet", "kwargs": {"depth": 5}}) == 32
    assert stride_multiple({"family": "unet", "kwargs": {"depth": 4, "space_to_depth": 2}}) == 32
    assert stride_multiple({"family": "unet_colorizer", "kwargs": {}}) == 64
    assert stride_multiple({"family": "effnet_unet", "kwargs": {}}) == 32


def test_pad_and_crop_restore_the_size():
    x = np.arange(2 * 3 * 5 * 7, dtype=np.float32).reshape(2, 3, 5, 7)
    p = pad_frame(x, 4)
    assert p.shape == (2, 3, 8, 8)
    np.testing.assert_array_equal(p[..., :5, :7], x)
    np.testing.assert_array_equal(p[..., 7, :7], x[..., 4, :])          # replicated bottom row
    assert crop_output(p, (5, 7), (8, 8)).shape == (2, 3, 5, 7)
    assert crop_output(np.zeros((1, 9, 2, 2)), (5, 7), (8, 8)).shape == (1, 9, 2, 2)  # stride-4 output: ceil(5/4), ceil(7/4)


def test_torch_engine_is_the_network(random_unet):
    _, model, arch = random_unet
    engine = TorchEngine(model, arch, CPU)
    feeds = _feeds(np.random.default_rng(1), 2, 21, 35)                 # not a multiple of the stride
    with torch.inference_mode():
        want = model(torch.from_numpy(feeds["frame"]), torch.from_numpy(feeds["level_cue"])).numpy()
    got = engine(feeds)["y"]
    assert got.shape == (2, 3, 21, 35)
    np.testing.assert_allclose(got, want, atol=1e-5)
    with pytest.raises(ValueError, match="level_cue"):
        engine({"frame": feeds["frame"]})


def test_onnx_engine_matches_torch_at_sizes_it_was_not_traced_at(random_unet, tmp_path):
    _, model, arch = random_unet
    data = export_onnx(model, arch, tmp_path / "g.onnx")
    assert (tmp_path / "g.onnx").read_bytes() == data and read_onnx_arch(tmp_path / "g.onnx") == arch
    assert [p.name for p in tmp_path.iterdir()] == ["g.onnx"]            # no temporary file left
    torch_engine, onnx_engine = TorchEngine(model, arch, CPU), OnnxEngine(data, arch, CPU)
    rng = np.random.default_rng(2)
    for n, h, w in ((1, 37, 50), (3, 64, 40)):
        feeds = _feeds(rng, n, h, w)
        a, b = torch_engine(feeds)["y"], onnx_engine(feeds)["y"]
        assert a.shape == b.shape == (n, 3, h, w) and np.abs(a).max() > 0.5   # a real, non-trivial output
        assert np.abs(a - b).max() < ONNX_TOLERANCE


def test_space_to_depth_unet_exports_and_matches_torch():
    """The half-resolution U-Net (pixel_unshuffle / pixel_shuffle) through ONNX Runtime, at sizes it was not
    traced at, odd ones included (the padding to a multiple of 2 ** depth * 2 is in the graph)."""
    kwargs = dict(TINY_GENERATOR, in_channels=3, out_channels=3, use_phase=True, space_to_depth=2)
    model = _randomize(UNetGenerator(**kwargs), 4)
    arch = {"family": "unet", "kwargs": kwargs, "mode": "lab", "job": "dequantize"}
    torch_engine, onnx_engine = TorchEngine(model, arch, CPU), OnnxEngine(export_onnx(model, arch), arch, CPU)
    rng = np.random.default_rng(5)
    for n, h, w in ((1, 37, 50), (2, 64, 40)):
        feeds = _feeds(rng, n, h, w)
        a, b = torch_engine(feeds)["y"], onnx_engine(feeds)["y"]
        assert a.shape == b.shape == (n, 3, h, w) and np.abs(a).max() > 0.5
        assert np.abs(a - b).max() < ONNX_TOLERANCE


def test_exemplar_exports_with_reference_inputs(tmp_path):
    model = _randomize(ExemplarColorizer(out_channels=10, widths=(8, 8, 8, 8)), 3)
    arch = {"family": "exemplar", "kwargs": {"out_channels": 10, "widths": [8, 8, 8, 8]}, "mode": "bins",
            "job": "colorize-reference"}
    onnx_engine, torch_engine = OnnxEngine(export_onnx(model, arch), arch, CPU), TorchEngine(model, arch, CPU)
    with torch.inference_mode():
        keys, values = model.reference(torch.zeros(1, 1, 40, 56), torch.randn(1, 2, 40, 56))
    for e in (onnx_engine, torch_engine):
        e.bind(keys=keys.numpy(), values=values.numpy())
    frame = {"frame": np.random.default_rng(4).uniform(-1, 1, (2, 1, 45, 70)).astype(np.float32)}
    a, b = torch_engine(frame)["y"], onnx_engine(frame)["y"]
    assert a.shape == (2, 10, 12, 18)
    assert np.abs(a - b).max() < ONNX_TOLERANCE
    with pytest.raises(ValueError, match="no input"):
        onnx_engine.bind(level_cue=np.zeros((1, 3)))


def test_a_cached_graph_is_reexported_when_the_code_that_builds_it_changes(tiny_models, tmp_path, monkeypatch):
    """The cache key holds the weight file's digest and that of the network and export code: a graph
    cached by an older vidcolor (other ops for the same weights) is not reused."""
    import vidcolor.engine as engine
    from vidcolor.weights import read_arch

    monkeypatch.setenv("VIDCOLOR_CACHE", str(tmp_path))
    model = str(tiny_models.lab)
    arch = read_arch(model)
    assert engine.cached_onnx(model, arch)[1] is not None          # exported (the module comes back)
    assert engine.cached_onnx(model, arch)[1] is None              # read from the cache
    monkeypatch.setattr(engine, "graph_code_digest", lambda: b"another version of the network code")
    assert engine.cached_onnx(model, arch)[1] is not None          # exported again, under a new key
    assert len(list((tmp_path / "onnx").glob("*.onnx"))) == 2


def test_exporting_a_graph_reads_the_weight_file_once(tiny_models, tmp_path, monkeypatch):
    """cached_onnx read the whole weight file to hash it, then load_generator read it again to export it (strace of
    a colorize run with an empty cache: an 8,044,100-byte read(), then a torch mmap of the 8 MB file). The bytes
    hashed are now those loaded: one read, the same module and graph as load_generator's."""
    import vidcolor.engine as engine
    import vidcolor.weights as weights

    monkeypatch.setenv("VIDCOLOR_CACHE", str(tmp_path))
    model = str(tiny_models.lab)
    arch = weights.read_arch(model)
    reads, read_bytes, safe_open = [], Path.read_bytes, weights.safe_open
    monkeypatch.setattr(Path, "read_bytes", lambda p: reads.append(("read_bytes", p.name)) or read_bytes(p))
    monkeypatch.setattr(weights, "safe_open", lambda path, **kw: reads.append((kw["framework"], Path(path).name))
                        or safe_open(path, **kw))
    data, module = engine.cached_onnx(model, arch)
    assert [r for r in reads if r[1] == "tiny-lab.safetensors"] == [("read_bytes", "tiny-lab.safetensors")]
    monkeypatch.undo()
    loaded, _ = weights.load_generator(model)
    state = loaded.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in module.state_dict().items()) and not module.training
    assert data == export_onnx(loaded, arch)


@pytest.mark.parametrize("damage", [b"", b"truncated"])
def test_a_damaged_cached_graph_is_exported_again(tiny_models, tmp_path, monkeypatch, damage):
    """An empty or truncated cached graph (a crash while it was written) made every later run fail with an ONNX
    Runtime traceback."""
    import vidcolor.engine as engine
    from vidcolor.weights import read_arch

    monkeypatch.setenv("VIDCOLOR_CACHE", str(tmp_path))
    model = str(tiny_models.lab)
    arch = read_arch(model)
    good = engine.cached_onnx(model, arch)[0]
    (path,) = (tmp_path / "onnx").glob("*.onnx")
    path.write_bytes(damage or good[: len(good) // 2])
    data, module = engine.cached_onnx(model, arch)
    assert module is not None and data == good and path.read_bytes() == good      # exported again, cached again
    assert engine.cached_onnx(model, arch)[1] is None


def test_no_home_folder_means_no_cache_not_a_traceback(tiny_models, monkeypatch):
    """With HOME unset and a user without a passwd entry (a container's arbitrary uid), Path.home() raised
    RuntimeError from cache_dir: every ONNX Runtime run died with a traceback. The graph is exported instead, with
    one warning a process that says what to set."""
    import pwd

    import vidcolor.engine as engine
    from vidcolor.cache import cache_dir
    from vidcolor.weights import read_arch

    def no_entry(uid):
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    for name in ("VIDCOLOR_CACHE", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    monkeypatch.setattr(engine, "_cache_warned", False)
    with pytest.raises(VidcolorError, match="set VIDCOLOR_CACHE"):
        cache_dir()
    model = str(tiny_models.lab)
    with vidcolor_warnings() as said:
        for _ in range(2):
            assert engine.cached_onnx(model, read_arch(model))[1] is not None      # exported, each time
    assert len(said) == 1 and said[0].startswith("cannot cache the ONNX graph (no cache folder"), said


def test_a_relative_xdg_cache_home_is_ignored(monkeypatch, tmp_path):
    """The XDG spec has a relative XDG_CACHE_HOME ignored: it put the cache in whatever folder a run started in."""
    from vidcolor.cache import cache_dir

    monkeypatch.delenv("VIDCOLOR_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert cache_dir() == tmp_path / ".cache" / "vidcolor"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "vidcolor"


def test_an_unreadable_cached_graph_is_exported_again(tiny_models, tmp_path, monkeypatch):
    """A cached graph or checksum that cannot be read (another user's cache, a graph pruned by another run as this
    one read it) was a PermissionError traceback; it is a cache miss."""
    import vidcolor.engine as engine
    from vidcolor.weights import read_arch

    monkeypatch.setenv("VIDCOLOR_CACHE", str(tmp_path))
    model = str(tiny_models.lab)
    arch = read_arch(model)
    good = engine.cached_onnx(model, arch)[0]
    (path,) = (tmp_path / "onnx").glob("*.onnx")
    real = Path.read_bytes

    def denied(self):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    data, module = engine.cached_onnx(model, arch)
    assert data == good and module is not None


def test_each_export_prunes_graphs_unused_for_a_month(tiny_models, tmp_path, monkeypatch):
    """Every change to the network code, torch version or weights left a graph in the cache for ever (364 MB, 39
    graphs, in a day of development). A graph used is touched; an export removes those untouched for
    GRAPH_UNUSED_DAYS days, with their checksums, and killed exports' temporary files (no process locks them); recent
    ones stay, and so do files not named as the cache names them."""
    import time

    import vidcolor.engine as engine
    from vidcolor.weights import read_arch

    monkeypatch.setenv("VIDCOLOR_CACHE", str(tmp_path))
    folder = tmp_path / "onnx"
    folder.mkdir()
    old = time.time() - (engine.GRAPH_UNUSED_DAYS + 1) * 86400
    old_graph, recent = "0123456789abcdef-torch2.0.0.onnx", "fedcba9876543210-torch2.0.0-reference.onnx"
    for name in (old_graph, old_graph + ".sha256", f".{old_graph[:-5]}.abcdefgh.onnx", f".{old_graph}.abcdefgh.sha256",
                 "0" * 16 + "-torch1.onnx.sha256",
                 recent, recent + ".sha256", "notes.txt", "mine.onnx"):
        (folder / name).write_bytes(b"x")
        if name.startswith("."):                    # a killed export's partial file, in mkstemp's mode, unlocked
            os.chmod(folder / name, 0o600)
        if not name.startswith("fedcba"):
            os.utime(folder / name, (old, old))
    model = str(tiny_models.lab)
    arch = read_arch(model)
    engine.cached_onnx(model, arch)                                     # an export: prunes
    (graph,) = (p for p in folder.glob("*-torch*.onnx") if p.name not in (old_graph, recent))
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [graph.name, graph.name + ".sha256", recent, recent + ".sha256", "notes.txt", "mine.onnx"])
    os.utime(graph, (old, old))
    assert engine.cached_onnx(model, arch)[1] is None                   # used: touched
    assert time.time() - graph.stat().st_mtime < 3600


def test_dequantizer_gives_the_same_frames_on_both_backends(random_unet, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDCOLOR_CACHE", str(tmp_path / "cache"))
    path = str(random_unet[0])
    frames = mosaic(3, 30, 44, seed=5)
    a = Dequantizer(path, "cpu", consistency=False, backend="torch", precision="fp32")(frames)
    b = Dequantizer(path, "cpu", consistency=False, backend="onnxruntime")(frames)
    assert np.abs(a.astype(int) - frames).mean() > 5                    # the random network changes the frames
    assert np.abs(a.astype(int) - b).max() <= 1                          # rounding of the 8-bit result only
    cached = list((tmp_path / "cache" / "onnx").glob("*.onnx"))
    assert len(cached) == 1 and cached[0].suffix == ".onnx"
    inode = cached[0].stat().st_ino
    Dequantizer(path, "cpu", consistency=False, backend="onnxruntime")
    # the second run reads the cache (a use renews its mtime, prune_graphs' clock; an export renames a new file in)
    assert cached[0].stat().st_ino == inode
    onnx_file = tmp_path / "d.onnx"
    export_onnx(*random_unet[1:], onnx_file)
    np.testing.assert_array_equal(Dequantizer(str(onnx_file), "cpu", consistency=False)(frames), b)


def test_an_onnx_graph_of_another_job_or_for_torch_is_refused(random_unet, tmp_path):
    onnx_file = tmp_path / "d.onnx"
    export_onnx(*random_unet[1:], onnx_file)
    with pytest.raises(VidcolorError, match="is a dequantize model, not an automatic colorize model$"):
        load_engine(str(onnx_file), "colorize", CPU)
    with pytest.raises(VidcolorError, match="onnxruntime"):
        load_engine(str(onnx_file), "dequantize", CPU, backend="torch")
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    with pytest.raises(VidcolorError, match="cannot read ONNX"):
        load_engine(str(tmp_path / "junk.onnx"), "dequantize", CPU)


def test_precisions():
    assert resolve_precision("auto", CPU, "torch") == "fp32"
    assert resolve_precision("auto", "cuda", "torch") == "fp16"
    assert resolve_precision("auto", "cuda", "onnxruntime") == "fp32"
    for bad, backend in (("fp16", "torch"), ("bf16", "onnxruntime"), ("int8", "torch")):
        with pytest.raises(VidcolorError, match="precision"):
            resolve_precision(bad, CPU, backend)


def test_auto_runs_dequantize_in_bf16_on_torch_where_the_cpu_has_native_bf16(random_unet, monkeypatch):
    """CPU_BF16_JOBS: on a CPU with native bf16 the dequantizer's auto engine is torch with bf16 autocast;
    without it, or with a backend or precision asked for, the usual resolution."""
    import vidcolor.engine as engine

    path = str(random_unet[0])
    monkeypatch.setattr(engine, "cpu_has_bf16", lambda: True)
    auto = load_engine(path, "dequantize", CPU)[0]
    assert isinstance(auto, TorchEngine) and auto.precision == "bf16"
    assert isinstance(load_engine(path, "dequantize", CPU, backend="onnxruntime")[0], OnnxEngine)
    assert load_engine(path, "dequantize", CPU, precision="fp32")[0].precision == "fp32"
    monkeypatch.setattr(engine, "cpu_has_bf16", lambda: False)
    assert isinstance(load_engine(path, "dequantize", CPU)[0], OnnxEngine)


def test_bf16_is_close_to_fp32_but_not_identical(random_unet):
    _, model, arch = random_unet
    feeds = _feeds(np.random.default_rng(6), 1, 32, 32)
    a = TorchEngine(model, arch, CPU, "fp32")(feeds)["y"]
    b = TorchEngine(model, arch, CPU, "bf16")(feeds)["y"]
    err = np.abs(a - b)
    assert 0 < err.max() and err.mean() < 0.02                           # bf16 keeps 8 bits of mantissa


def test_export_command(tiny_models, tmp_path):
    """`vidcolor export` as a subprocess once, then in this process (helpers.invoke_cli, the same entry point)."""
    out = tmp_path / "m.onnx"
    r = run_cli("export", str(tiny_models.lab), str(out))
    assert r.returncode == 0 and read_onnx_arch(out)["job"] == "dequantize"
    again = invoke_cli("export", str(tiny_models.lab), str(out))
    assert again.returncode == 1 and "exists" in again.stderr and "Traceback" not in again.stderr
    for args, msg in (((str(tiny_models.lab), str(tmp_path / "m.txt")), ".onnx file"),
                      (("no-such-model", str(tmp_path / "new" / "n.onnx")), "not found"),
                      ((str(tiny_models.lab), str(tmp_path / "m.onnx" / "n.onnx")), "m.onnx is a file, not a folder")):
        r = invoke_cli("export", *args)
        assert r.returncode == 1 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]                   # a failed export made no folder
    # missing folders are created, as the jobs' -o creates them (it said 'no such folder')
    r = invoke_cli("export", str(tiny_models.lab), str(tmp_path / "missing" / "deeper" / "n.onnx"))
    assert r.returncode == 0 and read_onnx_arch(tmp_path / "missing" / "deeper" / "n.onnx")["job"] == "dequantize"


def test_export_keeps_a_graph_another_run_wrote_meanwhile(tiny_models, tmp_path, monkeypatch):
    """`vidcolor export` checked OUTPUT before loading the model, then renamed its graph over whatever was there:
    a file another run wrote meanwhile was replaced without --overwrite. It is kept, one line, exit 1, nothing of
    this run left; --overwrite replaces it."""
    import vidcolor.weights

    out = tmp_path / "m.onnx"
    loads = vidcolor.weights.load_generator

    def load_while_another_run_writes(*args, **kwargs):
        out.write_bytes(b"the other run's")
        return loads(*args, **kwargs)

    monkeypatch.setattr(vidcolor.weights, "load_generator", load_while_another_run_writes)
    r = invoke_cli("export", str(tiny_models.lab), str(out))
    assert r.returncode == 1 and "another run wrote it while this one worked" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert out.read_bytes() == b"the other run's" and sorted(os.listdir(tmp_path)) == ["m.onnx"]
    r = invoke_cli("export", str(tiny_models.lab), str(out), "--overwrite")
    assert r.returncode == 0 and read_onnx_arch(out)["job"] == "dequantize"


def test_tiles_join_without_seams_and_bound_the_network_input(random_unet):
    _, model, arch = random_unet
    shapes = []
    engine = TorchEngine(model, arch, CPU, tile=128)

    def spy(args):
        shapes.append(args[0].shape[-2:])
        return TorchEngine.run(engine, args)
    engine.run = spy
    feeds = _feeds(np.random.default_rng(7), 1, 150, 300)
    tiled = engine(feeds)["y"]
    assert len(shapes) > 1 and max(max(s) for s in shapes) <= 128 + 32       # tile + context, padded to the stride
    whole = TorchEngine(model, arch, CPU, tile=0)(feeds)["y"]
    assert tiled.shape == whole.shape == (1, 3, 150, 300)
    # the tiny random U-Net (depth 2) sees 32 pixels of context: the tiles agree with the whole frame
    np.testing.assert_allclose(tiled, whole, atol=1e-4)
    with pytest.raises(VidcolorError, match="^tile must be 0"):
        TorchEngine(model, arch, CPU, tile=50)


def test_fold_batchnorm_keeps_the_function_and_the_callers_module():
    """Batch normalizations with non-trivial statistics folded into their convolutions: no BatchNorm2d left
    in the copy, outputs equal to float rounding, the caller's module untouched; a training module refused."""
    kwargs = dict(TINY_GENERATOR, in_channels=3, out_channels=3)
    model = _randomize(UNetGenerator(**kwargs), 3)
    gen = torch.Generator().manual_seed(4)
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.copy_(torch.randn(bn.num_features, generator=gen) * 0.3)
        bn.running_var.copy_(torch.rand(bn.num_features, generator=gen) + 0.5)
    bns = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    folded = fold_batchnorm(model)
    assert bns > 0
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules()) == 0
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == bns
    x = torch.randn(2, 3, 64, 96, generator=gen)
    cue = torch.from_numpy(level_cue(np.zeros((2, 64, 96, 3), np.uint8)))
    with torch.no_grad():
        want, got = model(x, cue), folded(x, cue)
    assert (want - x).abs().max() > 0.01                 # the network does something to fold
    assert torch.allclose(got, want, atol=1e-5)
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorm(UNetGenerator(**kwargs).train())


def test_upsample_in_fp32_gives_the_bf16_kernel_s_result(monkeypatch):
    """Under CPU bf16 autocast, a generator whose bilinear upsamplings run in fp32 (the engine's copy) gives
    bit-identical outputs to the plain one, and its upsamplings do see fp32 (fp32 inputs pass unchanged)."""
    import copy
    kwargs = dict(TINY_GENERATOR, in_channels=3, out_channels=3)
    model = _randomize(UNetGenerator(**kwargs), 5).eval().to(memory_format=torch.channels_last)
    fast = copy.deepcopy(model)
    upsample_in_fp32(fast)
    seen = []
    interpolate = torch.nn.functional.interpolate
    monkeypatch.setattr(torch.nn.functional, "interpolate", lambda x, *a, **k: seen.append(x.dtype) or interpolate(x, *a, **k))
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 3, 64, 96, generator=gen).contiguous(memory_format=torch.channels_last)
    cue = torch.from_numpy(level_cue(np.zeros((2, 64, 96, 3), np.uint8)))
    with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16):
        want = model(x, cue)
        n = len(seen)
        got = fast(x, cue)
    assert (want.float() - x).abs().max() > 0.01                 # the network does something
    assert torch.equal(got, want)
    assert set(seen[:n]) == {torch.bfloat16} and set(seen[n:]) == {torch.float32}
    with torch.inference_mode():
        assert torch.equal(fast(x, cue), model(x, cue))            # fp32: unchanged


@pytest.mark.parametrize("user", [None, "0"])
def test_onnx_runtime_records_no_telemetry_unless_the_user_asked(tmp_path, user):
    """onnxruntime 1.32 left ``$TMPDIR/.ses`` after every run and grew an event database in
    ``~/.cache/Microsoft/DeveloperTools/.onnxruntime/``: vidcolor's sessions turn that off, and a user's own
    ``ORT_DISABLE_TELEMETRY`` is left as it is."""
    import subprocess
    import sys

    from helpers import cli_env

    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {k: v for k, v in cli_env().items()
           if not k.startswith("ORT_") and k not in ("CI", "TF_BUILD", "GITHUB_ACTIONS", "JENKINS_URL")}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), TMPDIR=str(tmp),
               **({"ORT_DISABLE_TELEMETRY": user} if user is not None else {}))
    script = ("import numpy as np, onnx; from onnx import helper, TensorProto; from vidcolor.engine import onnx_session\n"
              "x, y = (helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in 'xy')\n"
              "g = helper.make_graph([helper.make_node('Identity', ['x'], ['y'])], 'g', [x], [y])\n"
              "m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]); m.ir_version = 8\n"
              "s = onnx_session(m.SerializeToString(), 'cpu')\n"
              "assert s.run(None, {'x': np.ones(1, np.float32)})[0][0] == 1\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    made = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    if user is None:
        assert made == []
    elif "tmp/.ses" not in made:
        pytest.skip("this onnxruntime records no telemetry")
