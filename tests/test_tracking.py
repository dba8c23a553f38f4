"""--track: the Tracker records what minires.analysis measures every K steps without
changing the training; `minires train --track` writes tracks.jsonl and tracks.png, a
resumed run continues the tracks without gaps or duplicates, and mistakes are one-line
errors. `minires plot --tracks` draws several runs side by side."""

import json

import numpy
import pytest

import minires as mr
from minires import analysis, optim, tracking
from minires.cli import main
from minires.train import fit

SMALL_RUN = ["--data", "sample", "--train-subset", "64", "--test-subset", "32", "--width", "4",
             "--batch-size", "16", "--device", "cpu", "--no-progress"]


def train(out, *extra):
    return main(["train", *SMALL_RUN, "--out", str(out), *extra])


def read_tracks(out):
    return [json.loads(line) for line in (out / "tracks.jsonl").read_text().splitlines()]


def error_line(capsys):
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minires: error: "), lines
    return lines[0]


def test_parse_kinds():
    assert tracking.parse_kinds("grad-norms, alpha,grad-norms") == ["grad-norms", "alpha"]
    for text in ("", "grad_norms", "grad-norms,gates,bogus"):
        with pytest.raises(ValueError, match="choose from grad-norms, activations, gates, alpha, noise-stability"):
            tracking.parse_kinds(text)


def small_training(tracker_kinds=None, every=2):
    """Two epochs of a small residual net on random images; (model, tracker)."""
    mr.manual_seed(0)
    model = mr.models.cifar_net("residual", 8, width=4).double()
    rng = numpy.random.default_rng(0)
    data = mr.data.ArrayDataset(rng.integers(0, 256, (24, 8, 8, 3), dtype=numpy.uint8),
                                rng.integers(0, 10, 24), [str(c) for c in range(10)])
    train_loader = mr.data.DataLoader(data, batch_size=8, shuffle=True, seed=0)
    test_loader = mr.data.DataLoader(data, batch_size=8)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    tracker = tracking.Tracker(model, tracker_kinds, every) if tracker_kinds else None
    double = lambda images: images.double()                            # noqa: E731 (float64 net)
    loader = [(double(images), labels) for images, labels in train_loader]
    fit(model, loader, [(double(images), labels) for images, labels in test_loader], optimizer, 2,
        progress=False, log=None, after_step=tracker.after_step if tracker else None)
    return model, tracker, loader


def test_tracking_leaves_the_training_unchanged_and_records_every_k_steps():
    untracked, _, _ = small_training()
    tracked, tracker, loader = small_training(["grad-norms", "activations", "noise-stability"], every=2)
    for a, b in zip(untracked.parameters(), tracked.parameters()):
        numpy.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(untracked.buffers(), tracked.buffers()):
        numpy.testing.assert_array_equal(a.numpy(), b.numpy())
    assert [record["step"] for record in tracker.records] == [2, 4, 6]          # 3 batches x 2 epochs
    assert [record["epoch"] for record in tracker.records] == [1, 2, 2]
    record = tracker.records[-1]
    assert record["blocks"] == [name for name, _ in analysis.blocks(tracked)]
    assert len(record["grad_norms"]) == len(record["activations"]) == 3
    assert len(record["noise_stability"]) == len(analysis.weight_layers(tracked))
    assert all(value > 0 for value in record["grad_norms"] + record["noise_stability"])


def test_a_record_holds_what_analysis_measures_on_that_batch():
    model, tracker, loader = small_training()[0], None, small_training()[2]
    images, labels = loader[0]
    tracker = tracking.Tracker(model, ["grad-norms", "activations"], every=1)
    tracker.after_step(1, images, labels)
    expected = analysis.block_norms(model, images, labels)
    assert tracker.records[0]["batch_size"] == 8
    numpy.testing.assert_allclose(tracker.records[0]["grad_norms"], expected["activation_grad"] * 8 ** 0.5)
    numpy.testing.assert_allclose(tracker.records[0]["activations"], expected["activation"] / 8 ** 0.5)


def test_the_norms_are_per_example_whatever_the_batch_size():
    """A batch and the same batch twice over give the same record."""
    model, _, loader = small_training()
    images, labels = loader[0]
    tracker = tracking.Tracker(model.eval(), ["grad-norms", "activations"], every=1)
    tracker.after_step(1, images, labels)
    tracker.after_step(1, mr.cat([images, images]), mr.cat([labels, labels]))
    first, doubled = tracker.records
    numpy.testing.assert_allclose(doubled["grad_norms"], first["grad_norms"], rtol=1e-12)
    numpy.testing.assert_allclose(doubled["activations"], first["activations"], rtol=1e-12)


def test_gates_and_alpha_records():
    mr.manual_seed(0)
    images, labels = mr.randn(4, 3, 8, 8), mr.tensor([0, 1, 2, 3])
    highway = mr.models.cifar_net("highway", 8, width=4)
    van = mr.models.cifar_net("van", 8, width=4)
    gates = tracking.Tracker(highway, ["gates"], 1)
    gates.after_step(1, images, labels)
    alphas = tracking.Tracker(van, ["alpha"], 1)
    alphas.after_step(1, images, labels)
    numpy.testing.assert_allclose(gates.records[0]["gate_means"], analysis.gate_statistics(highway, images)["mean"])
    assert alphas.records[0]["alpha_means"] == [0.0] * 3 and alphas.records[0]["alpha_residual"] == (4 + 8 + 16) / 3   # alpha = 0: ‖1 - α‖² = C per layer
    with pytest.raises(ValueError, match="gates: the model CifarNet has no highway blocks to track"):
        tracking.check_kinds_fit(["gates"], van)
    with pytest.raises(ValueError, match="alpha: the model CifarNet has no VAN layers to track"):
        tracking.check_kinds_fit(["alpha"], highway)


def test_train_writes_tracks_and_resume_continues_them_without_gaps(tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    options = ["--track", "grad-norms,activations", "--track-every", "3", "--schedule", "constant"]
    assert train(whole, *options, "--epochs", "2") == 0
    assert train(split, *options, "--epochs", "1") == 0
    records = read_tracks(split)
    assert [record["step"] for record in records] == [3]                           # 4 batches per epoch
    # A run stopped after writing epoch 2's tracks but before its checkpoint: resuming
    # drops the records of the unfinished epoch and takes them again.
    lines = (whole / "tracks.jsonl").read_text().splitlines()
    (split / "tracks.jsonl").write_text("\n".join(lines) + "\n")
    assert train(split, *options, "--epochs", "2", "--resume") == 0
    assert read_tracks(split) == read_tracks(whole)
    assert [record["step"] for record in read_tracks(whole)] == [3, 6]
    assert (whole / "tracks.png").stat().st_size > 1000
    config = json.loads((whole / "config.json").read_text())
    assert config["settings"]["track"] == ["grad-norms", "activations"] and config["settings"]["track_every"] == 3


def test_track_mistakes_are_one_line_errors(tmp_path, capsys):
    assert train(tmp_path / "a", "--track", "gates") == 2
    assert "--track gates: the model CifarNet has no highway blocks to track" in error_line(capsys)
    with pytest.raises(SystemExit) as exit_status:
        train(tmp_path / "b", "--track", "bogus")
    assert exit_status.value.code == 2
    assert "--track: unknown kind bogus; choose from" in error_line(capsys)
    assert train(tmp_path / "c", "--track-every", "5") == 2
    assert "--track-every applies only with --track" in error_line(capsys)
    assert not any((tmp_path / name).exists() for name in "abc")


def test_plot_tracks_of_several_runs(tmp_path):
    for model in ("plain", "residual"):
        assert train(tmp_path / model, "--model", model, "--track", "grad-norms", "--track-every", "2") == 0
    out = tmp_path / "side-by-side.png"
    assert main(["plot", str(tmp_path / "plain"), str(tmp_path / "residual"), "--tracks", "grad-norms",
                 "--out", str(out)]) == 0
    assert out.stat().st_size > 1000


def test_the_tracker_reads_the_device_only_when_it_takes_a_record():
    from strict_device import count_synchronizations
    mr.manual_seed(0)
    model = mr.models.cifar_net("residual", 8, width=4).to("strict")
    images, labels = mr.randn(4, 3, 8, 8, device="strict"), mr.tensor([0, 1, 2, 3], device="strict")
    tracker = tracking.Tracker(model, ["grad-norms", "activations"], every=3)
    with count_synchronizations() as syncs:
        tracker.after_step(1, images, labels)
        tracker.after_step(1, images, labels)
    assert syncs.count == 0 and tracker.records == []
    with count_synchronizations() as syncs:
        tracker.after_step(1, images, labels)
    assert syncs.count == 1 and len(tracker.records) == 1                 # block_norms' one read-back
