"""The catalogue of bad input: every mistake a user can make from the command line,
what it must print, its exit status, and that it leaves the disk as it found it.

Each row is (id, setup, arguments, environment, message fragment, exit status):

- setup names what the workspace holds besides the common files (see ``workspace``);
  it is a function that may damage a copy of them;
- arguments may name ``{w}``, the workspace folder (also the working directory);
- the message must be one line, ``minires: error: ...``, and contain the fragment;
- exit status 2 is a usage error, 1 a failure at run time (see minires.cli).

After every row, every file of the workspace (a finished run, a foreign folder, data
files, the data cache) must be byte for byte what it was: nothing deleted,
nothing overwritten, no new file. The rows are grouped by class; the counts are
checked at the end, so that a class cannot quietly lose its cases.
"""

import collections
import hashlib
import json
import os
import shutil
import socket
import stat

import pickle
import tarfile
from pathlib import Path

import numpy
import pytest

from minires.checkpoint import load_checkpoint, save_checkpoint
from minires.cli import main
from test_data_validation import CIFAR_CLASSES, add_member, forged_png, png_bytes, write_tree

SMALL_RUN = ["--data", "sample", "--train-subset", "64", "--test-subset", "32", "--width", "4",
             "--batch-size", "32", "--device", "cpu", "--no-progress"]
NEW = ["--out", "{w}/new"]

Row = collections.namedtuple("Row", "id setup arguments environment fragment status")


def train_row(row_id, extra, fragment, status=2, setup=None, environment=None, out=NEW):
    return Row(row_id, setup, ["train", *SMALL_RUN, *extra, *out], environment or {}, fragment, status)


# -- damage done to a copy of the workspace's finished run ("{w}/run") ------------------

def _edit_config(change):
    def setup(workspace):
        path = os.path.join(workspace, "run", "config.json")
        with open(path) as file:
            config = json.load(file)
        change(config)
        with open(path, "w") as file:
            json.dump(config, file)
    return setup


def _set_setting(name, value):
    return _edit_config(lambda config: config["settings"].__setitem__(name, value))


def _remove_setting(name):
    return _edit_config(lambda config: config["settings"].pop(name))


def _write_file(relative, content):
    def setup(workspace):
        path = os.path.join(workspace, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as file:
            file.write(content if isinstance(content, bytes) else content.encode())
    return setup


def _edit_checkpoint(change):
    def setup(workspace):
        path = os.path.join(workspace, "run", "checkpoint.npz")
        state = load_checkpoint(path)
        change(state)
        save_checkpoint(path, state)
    return setup


def _truncate_checkpoint(workspace):
    path = os.path.join(workspace, "run", "checkpoint.npz")
    with open(path, "rb") as file:
        head = file.read(os.path.getsize(path) // 2)
    with open(path, "wb") as file:
        file.write(head)


def _lock(workspace, folder="run"):
    with open(os.path.join(workspace, folder, ".minires-lock"), "w") as file:
        json.dump({"pid": os.getpid(), "host": socket.gethostname()}, file)


def _lock_new(workspace):
    os.makedirs(os.path.join(workspace, "new"))
    _lock(workspace, "new")


def _empty_metrics(workspace):
    open(os.path.join(workspace, "run", "metrics.jsonl"), "w").close()


def _remove(relative):
    def setup(workspace):
        os.remove(os.path.join(workspace, relative))
    return setup


RESUME = ["train", "--resume", "--out", "{w}/run", "--no-progress", "--epochs", "2"]


def resume_row(row_id, setup, fragment, status=1, extra=()):
    return Row(row_id, setup, [*RESUME, *extra], {}, fragment, status)


OPTIONS = [
    train_row("lr-negative", ["--lr", "-0.1"], "--lr -0.1: expected a finite number > 0"),
    train_row("lr-zero", ["--lr", "0"], "--lr 0.0: expected a finite number > 0"),
    train_row("lr-nan", ["--lr", "nan"], "--lr nan: expected a finite number > 0"),
    train_row("lr-infinite", ["--lr", "inf"], "--lr inf: expected a finite number > 0"),
    train_row("lr-not-a-number", ["--lr", "fast"], "argument --lr: invalid float value: 'fast'"),
    train_row("momentum-negative", ["--momentum", "-1"], "--momentum -1.0: expected a finite number >= 0 and < 1"),
    train_row("momentum-one", ["--momentum", "1"], "--momentum 1.0: expected a finite number >= 0 and < 1"),
    train_row("momentum-nan", ["--momentum", "nan"], "--momentum nan"),
    train_row("weight-decay-negative", ["--weight-decay", "-1"], "--weight-decay -1.0: expected a finite number >= 0"),
    train_row("weight-decay-infinite", ["--weight-decay", "inf"], "--weight-decay inf"),
    train_row("seed-negative", ["--seed", "-1"], "--seed -1: expected an integer in 0..9223372036854775807"),
    train_row("seed-too-large", ["--seed", str(2**64)], "--seed 18446744073709551616: expected an integer in 0.."),
    train_row("seed-not-an-integer", ["--seed", "1.5"], "argument --seed: invalid int value: '1.5'"),
    train_row("device-unknown", ["--device", "foo"], "--device foo: expected one of auto, cpu, cuda"),
    Row("device-from-environment-unknown", None, ["train", *SMALL_RUN[:-3], "--no-progress", *NEW],
        {"MINIRES_DEVICE": "bogus"}, "MINIRES_DEVICE bogus: expected one of auto, cpu, cuda", 2),
    train_row("nesterov-without-momentum", ["--nesterov", "--momentum", "0"], "--nesterov needs --momentum > 0"),
    train_row("nesterov-with-adam", ["--optimizer", "adam", "--nesterov"],
              "--nesterov applies only to --optimizer sgd (this run uses adam)"),
    train_row("momentum-with-adam", ["--optimizer", "adam", "--momentum", "0.5"],
              "--momentum applies only to --optimizer sgd (this run uses adam)"),
    train_row("momentum-with-adamw", ["--optimizer", "adamw", "--momentum", "0.5"],
              "--momentum applies only to --optimizer sgd (this run uses adamw)"),
    train_row("milestones-with-cosine", ["--milestones", "2"],
              "--milestones applies only to --schedule multistep (this run uses cosine)"),
    train_row("gamma-with-cosine", ["--gamma", "0.5"], "--gamma applies only to --schedule multistep"),
    train_row("gamma-with-constant", ["--schedule", "constant", "--gamma", "0.5"],
              "--gamma applies only to --schedule multistep (this run uses constant)"),
    train_row("gamma-negative", ["--schedule", "multistep", "--gamma", "-5"],
              "--gamma -5.0: expected a finite number > 0 and <= 1"),
    train_row("gamma-zero", ["--schedule", "multistep", "--gamma", "0"], "--gamma 0.0: expected"),
    train_row("gamma-above-one", ["--schedule", "multistep", "--gamma", "2"], "--gamma 2.0: expected"),
    train_row("gamma-nan", ["--schedule", "multistep", "--gamma", "nan"], "--gamma nan: expected"),
    train_row("milestone-zero", ["--schedule", "multistep", "--milestones", "0"],
              "argument --milestones: invalid positive integer value: '0'"),
    train_row("milestones-decreasing", ["--schedule", "multistep", "--milestones", "3", "2"],
              "--milestones 3 2: expected a list of increasing epochs >= 1"),
    train_row("milestone-after-the-last-epoch", ["--schedule", "multistep", "--milestones", "6"],
              "--milestones 6: a milestone must come before the last epoch (6)"),
    train_row("warmup-negative", ["--warmup-epochs", "-3"], "--warmup-epochs -3: expected an integer >= 0"),
    train_row("stages-depth-not-8n-plus-2", ["--stages", "4", "--depth", "8"],
              "--model residual --depth 8: cifar_net: with 4 stages, depth must be 8n + 2"),
    train_row("no-lagrange-multipliers-without-van", ["--no-lagrange-multipliers"],
              "--no-lagrange-multipliers applies only to the VAN models, van and mlp-van (this run trains residual)"),
    train_row("stages-five", ["--stages", "5"], "--stages: invalid choice: 5 (choose from 3, 4)"),
    train_row("stages-for-an-mlp", ["--model", "mlp-plain", "--depth", "4", "--stages", "4"],
              "--stages applies only to the CIFAR nets (this run trains mlp-plain)"),
    train_row("track-unknown-kind", ["--track", "grad-norms,gradients"], "--track: unknown kind gradients; choose from"),
    train_row("track-gates-without-highway", ["--track", "gates"],
              "--track gates: the model CifarNet has no highway blocks to track"),
    train_row("track-alpha-without-van", ["--model", "plain", "--track", "alpha"],
              "--track alpha: the model CifarNet has no VAN layers to track"),
    train_row("track-every-without-track", ["--track-every", "5"], "--track-every applies only with --track"),
    train_row("track-every-zero", ["--track", "grad-norms", "--track-every", "0"],
              "--track-every: invalid positive integer value: '0'"),
    train_row("warmup-as-long-as-the-run", ["--warmup-epochs", "6"], "--warmup-epochs 6 leaves no epoch"),
    train_row("max-grad-norm-negative", ["--max-grad-norm", "-1"], "--max-grad-norm -1.0: expected a finite number > 0"),
    train_row("max-grad-norm-zero", ["--max-grad-norm", "0"], "--max-grad-norm 0.0: expected"),
    train_row("max-grad-norm-nan", ["--max-grad-norm", "nan"], "--max-grad-norm nan: expected"),
    train_row("multiplier-fraction-without-van", ["--multiplier-lr-fraction", "0.2"],
              "--multiplier-lr-fraction applies only to the VAN models"),
    train_row("multiplier-fraction-negative", ["--model", "van", "--multiplier-lr-fraction", "-1"],
              "--multiplier-lr-fraction -1.0: expected a finite number > 0"),
    train_row("depth-zero", ["--depth", "0"], "argument --depth: invalid positive integer value: '0'"),
    train_row("depth-negative", ["--depth", "-8"], "argument --depth: invalid positive integer value: '-8'"),
    train_row("depth-not-of-the-family", ["--depth", "9"], "--model residual --depth 9"),
    train_row("depth-that-cannot-fit", ["--depth", "99999999998"], "--depth 99999999998 --width 4 cannot fit"),
    train_row("width-that-cannot-fit", ["--width", "1000000"], "--width 1000000 cannot fit"),
    train_row("width-zero", ["--width", "0"], "argument --width: invalid positive integer value: '0'"),
    train_row("epochs-zero", ["--epochs", "0"], "argument --epochs: invalid positive integer value: '0'"),
    train_row("batch-size-zero", ["--batch-size", "0"], "argument --batch-size: invalid positive integer"),
    train_row("batch-size-not-a-number", ["--batch-size", "big"], "argument --batch-size: invalid positive integer"),
    train_row("train-subset-zero", ["--train-subset", "0"], "argument --train-subset: invalid positive integer"),
    train_row("train-subset-larger-than-the-set", ["--train-subset", "1000000"],
              "--train-subset 1000000 is larger than the train set (5000 images)"),
    train_row("test-subset-larger-than-the-set", ["--test-subset", "1000000"],
              "--test-subset 1000000 is larger than the test set (1000 images)"),
    train_row("model-unknown", ["--model", "resnext"], "'resnext' is not a model; choose from plain"),
    train_row("model-renamed", ["--model", "resnet"], "'resnet' is now called 'residual'"),
    train_row("optimizer-unknown", ["--optimizer", "rmsprop"], "argument --optimizer: invalid choice: 'rmsprop'"),
    train_row("schedule-unknown", ["--schedule", "linear"], "argument --schedule: invalid choice: 'linear'"),
    train_row("block-option-of-another-model", ["--gate-bias", "-2"], "--gate-bias does not apply to --model residual"),
    train_row("gate-bias-nan", ["--model", "highway", "--gate-bias", "nan"], "--gate-bias nan: expected a finite number"),
    train_row("width-factor-zero", ["--model", "highway", "--width-factor", "0"],
              "--width-factor 0.0: expected a finite number > 0"),
    train_row("dropout-p-one", ["--model", "scaled_residual", "--variant", "dropout", "--dropout-p", "1"],
              "--dropout-p 1.0: expected a finite number >= 0 and < 1"),
    train_row("shortcut-unknown", ["--shortcut", "C"], "argument --shortcut: invalid choice: 'C'"),
    train_row("variant-unknown", ["--model", "scaled_residual", "--variant", "half"], "argument --variant: invalid choice"),
    train_row("init-unknown", ["--model", "simplified-residual", "--init", "xavier"], "argument --init: invalid choice"),
    train_row("option-misspelt", ["--lrr", "0.1"], "unrecognized arguments: --lrr 0.1"),
    train_row("download-for-the-bundled-sample", ["--download"], "--download applies only to --data cifar10"),
    train_row("resume-and-overwrite", ["--resume", "--overwrite"], "--resume continues the run in --out"),
    Row("resume-without-out", None, ["train", "--resume", "--no-progress"], {}, "--resume needs --out", 2),
    Row("no-command", None, [], {}, "the following arguments are required: COMMAND", 2),
    Row("unknown-command", None, ["fit"], {}, "argument COMMAND: invalid choice: 'fit'", 2),
]

RUN_FOLDERS = [
    train_row("out-is-a-file", [], "notes.txt is a file, not a folder", out=["--out", "{w}/notes.txt"]),
    train_row("out-under-a-file", [], "notes.txt is a file, not a folder", out=["--out", "{w}/notes.txt/run"]),
    train_row("out-holds-a-run", [], "already holds files; pass --overwrite", out=["--out", "{w}/run"]),
    train_row("out-holds-foreign-files", [], "already holds files", out=["--out", "{w}/foreign"]),
    train_row("overwrite-foreign-files", ["--overwrite"], "no .minires-run marker, so minires did not write it",
              out=["--out", "{w}/foreign"]),
    train_row("overwrite-with-a-bad-depth", ["--overwrite", "--depth", "9"], "--model residual --depth 9",
              out=["--out", "{w}/run"]),
    train_row("overwrite-with-a-bad-rate", ["--overwrite", "--lr", "-1"], "--lr -1.0: expected",
              out=["--out", "{w}/run"]),
    train_row("overwrite-with-missing-data", ["--overwrite", "--data", "{w}/nowhere"], "no such file or folder",
              out=["--out", "{w}/run"]),
    train_row("overwrite-with-damaged-data", ["--overwrite", "--data", "{w}/damaged.tar.gz"], "truncated or corrupt",
              status=1, out=["--out", "{w}/run"]),
    train_row("overwrite-a-locked-run", ["--overwrite"], "is in use by process", setup=_lock,
              out=["--out", "{w}/run"]),
    train_row("new-run-in-a-locked-folder", [], "is in use by process", setup=_lock_new),
    resume_row("resume-a-locked-run", _lock, "is in use by process", status=2),
    resume_row("resume-a-missing-folder", None, "no config.json", status=2, extra=["--out", "{w}/nowhere"]),
    resume_row("resume-without-checkpoint", _remove("run/checkpoint.npz"), "it has no checkpoint.npz", status=2),
    resume_row("resume-another-model", None, "--model plain (the run has residual)", status=2,
               extra=["--model", "plain"]),
    resume_row("resume-another-rate", None, "--lr 0.5 (the run has 0.1)", status=2, extra=["--lr", "0.5"]),
    resume_row("resume-with-reference-kernels", None, "--reference-kernels (the run used the fast kernels)",
               status=2, extra=["--reference-kernels"]),
]

RUN_FILES = [
    resume_row("config-not-json", _write_file("run/config.json", "{settings: "), "config.json is damaged: not JSON"),
    resume_row("config-empty", _write_file("run/config.json", ""), "config.json is damaged: not JSON"),
    resume_row("config-not-an-object", _write_file("run/config.json", "[1, 2]"),
               "config.json is damaged: its field settings must be an object"),
    resume_row("config-settings-null", _edit_config(lambda config: config.__setitem__("settings", None)),
               "config.json is damaged: its field settings must be an object of settings (found NoneType)"),
    resume_row("config-settings-a-list", _edit_config(lambda config: config.__setitem__("settings", [])),
               "its field settings must be an object of settings (found list)"),
    resume_row("config-without-model", _remove_setting("model"), "config.json is damaged: settings.model is missing"),
    resume_row("config-without-seed", _remove_setting("seed"), "settings.seed is missing"),
    resume_row("config-rate-as-text", _set_setting("lr", "fast"),
               "settings.lr is fast; expected a finite number > 0"),
    resume_row("config-rate-null", _set_setting("lr", None), "settings.lr is null; expected a finite number > 0"),
    resume_row("config-depth-negative", _set_setting("depth", -8), "settings.depth is -8; expected an integer >= 1"),
    resume_row("config-depth-true", _set_setting("depth", True), "settings.depth is True; expected an integer >= 1"),
    resume_row("config-unknown-model", _set_setting("model", "resnext"), "settings.model is resnext; expected one of"),
    resume_row("config-seed-fractional", _set_setting("seed", 1.5), "settings.seed is 1.5; expected an integer"),
    resume_row("config-epochs-zero", _set_setting("epochs", 0), "settings.epochs is 0; expected an integer >= 1"),
    resume_row("config-optimizer-unknown", _set_setting("optimizer", "rmsprop"), "settings.optimizer is rmsprop"),
    resume_row("config-momentum-above-one", _set_setting("momentum", 1.5), "settings.momentum is 1.5"),
    resume_row("config-fast-as-text", _set_setting("fast", "yes"), "settings.fast is yes; expected true or false"),
    resume_row("checkpoint-random-bytes", _write_file("run/checkpoint.npz", os.urandom(4096)),
               "checkpoint.npz is not a minires checkpoint"),
    resume_row("checkpoint-truncated", _truncate_checkpoint, "checkpoint.npz is truncated or corrupt"),
    resume_row("checkpoint-of-another-program", lambda w: numpy.savez(os.path.join(w, "run", "checkpoint.npz"),
                                                                       x=numpy.zeros(3)),
               "not a minires checkpoint"),
    resume_row("checkpoint-negative-epoch", _edit_checkpoint(lambda state: state.__setitem__("epoch", -4)),
               "epoch"),
    resume_row("checkpoint-without-model", _edit_checkpoint(lambda state: state.pop("model")), "model"),
    resume_row("checkpoint-of-another-model", _set_setting("model", "highway"),
               "checkpoint.npz does not fit the run its config.json describes (load_state_dict: cannot load"),
    resume_row("checkpoint-of-another-width", _set_setting("width", 8),
               "fc.weight: the state dict has shape (10, 16), the model expects (10, 32)"),
    resume_row("checkpoint-history-too-short", _edit_checkpoint(lambda state: state.__setitem__("history", [])),
               "history"),
]

PLOTS = [
    Row("plot-a-missing-folder", None, ["plot", "{w}/nowhere", "--out", "{w}/figure.png"], {},
        "nowhere is not a run folder (it has no config.json)", 2),
    Row("plot-a-run-without-epochs", _empty_metrics, ["plot", "{w}/run", "--out", "{w}/figure.png"], {},
        "has no finished epoch to plot", 2),
    Row("plot-a-run-without-metrics", _remove("run/metrics.jsonl"), ["plot", "{w}/run", "--out", "{w}/figure.png"],
        {}, "has no metrics.jsonl", 2),
    Row("plot-damaged-metrics", _write_file("run/metrics.jsonl", "{\"epoch\": 1, \"test_error\"\n"),
        ["plot", "{w}/run", "--out", "{w}/figure.png"], {}, "metrics.jsonl is damaged: line 1", 1),
    Row("plot-damaged-config", _write_file("run/config.json", "[]"), ["plot", "{w}/run", "--out", "{w}/figure.png"],
        {}, "config.json is damaged", 1),
    Row("plot-to-a-name-that-is-not-png", None, ["plot", "{w}/run", "--out", "{w}/figure.pdf"], {},
        "give a name ending in .png", 2),
    Row("plot-into-a-missing-folder", None, ["plot", "{w}/run", "--out", "{w}/nowhere/figure.png"], {},
        "nowhere", 1),
]


def _image_tree(classes_of_split, extra=None):
    """A setup writing {w}/images/<split>/<class>/<n>.png, then ``extra(root)``."""
    def setup(workspace):
        root = os.path.join(workspace, "images")
        write_tree(Path(root), classes_of_split)
        if extra is not None:
            extra(root)
    return setup


CLASSES = {"train": ["cat", "dog"], "test": ["cat", "dog"]}


def _put(relative, make):
    """extra(root) for _image_tree: make(path) creates root/relative."""
    return lambda root: make(os.path.join(root, relative))


def _write_bytes(content):
    def make(path):
        with open(path, "wb") as file:
            file.write(content)
    return make


def _symlink_to(target):
    return lambda path: os.symlink(target, path)


def _image_archive(*members):
    """{w}/images.tar.gz with train/ and test/ cat images and ``members`` (add_member's arguments)."""
    def setup(workspace):
        with tarfile.open(os.path.join(workspace, "images.tar.gz"), "w:gz") as tar:
            for split in ("train", "test"):
                add_member(tar, f"{split}/cat/0.png", png_bytes())
            for member in members:
                add_member(tar, *member)
    return setup


def _cifar_folder(labels_of_batch_3):
    """{w}/cifar/cifar-10-batches-py/: the extracted official layout, two images a batch."""
    def setup(workspace):
        folder = os.path.join(workspace, "cifar", "cifar-10-batches-py")
        os.makedirs(folder)
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            labels = labels_of_batch_3 if name == "data_batch_3" else [1, 2]
            with open(os.path.join(folder, name), "wb") as file:
                pickle.dump({b"data": numpy.zeros((2, 3072), numpy.uint8), b"labels": labels}, file, protocol=2)
        with open(os.path.join(folder, "batches.meta"), "wb") as file:
            pickle.dump({b"label_names": [name.encode() for name in CIFAR_CLASSES]}, file, protocol=2)
    return setup


def data_row(row_id, setup, fragment, data="{w}/images", status=1):
    return train_row(row_id, ["--data", data, "--train-subset", "2", "--test-subset", "2", "--depth", "8"],
                     fragment, status=status, setup=setup)


DATA = [
    data_row("data-classes-differ", _image_tree({"train": ["cat", "dog"], "test": ["ant", "cat"]}),
             "the train classes (cat, dog) and test classes (ant, cat) differ"),
    data_row("data-a-fifo-in-a-class-folder", _image_tree(CLASSES, _put("train/cat/9.png", os.mkfifo)),
             "9.png is a FIFO (named pipe), not a regular file"),
    data_row("data-a-link-to-dev-zero", _image_tree(CLASSES, _put("train/cat/9.png", _symlink_to("/dev/zero"))),
             "9.png leads to /dev/zero through a symbolic link, outside"),
    data_row("data-a-link-out-of-the-folder",
             _image_tree(CLASSES, _put("train/cat/9.png", _symlink_to("../../../notes.txt"))),
             "through a symbolic link, outside"),
    data_row("data-a-broken-link", _image_tree(CLASSES, _put("train/cat/9.png", _symlink_to("nowhere.png"))),
             "9.png leads to no file"),
    data_row("data-an-image-too-large", _image_tree(CLASSES, _put("train/cat/9.png", _write_bytes(forged_png(9000, 9000)))),
             "9.png is 9000x9000 pixels, more than the limit of 16777216"),
    data_row("data-a-decompression-bomb",
             _image_tree(CLASSES, _put("train/cat/9.png", _write_bytes(forged_png(20000, 20000)))),
             "9.png is too large to decode"),
    data_row("data-images-of-different-sizes",
             _image_tree(CLASSES, _put("train/cat/9.png", _write_bytes(png_bytes(size=(5, 4))))),
             "images of different sizes"),
    data_row("data-a-file-that-is-not-an-image", _image_tree(CLASSES, _put("train/cat/9.png", _write_bytes(b"text"))),
             "9.png is not a readable image"),
    data_row("data-a-symlink-in-an-archive", _image_archive(("train/cat/1.png", b"", tarfile.SYMTYPE, "/etc/passwd")),
             "member train/cat/1.png is a symbolic link, not a regular file", data="{w}/images.tar.gz"),
    data_row("data-a-hard-link-in-an-archive",
             _image_archive(("train/cat/1.png", b"", tarfile.LNKTYPE, "train/cat/0.png")),
             "member train/cat/1.png is a hard link, not a regular file", data="{w}/images.tar.gz"),
    data_row("data-a-device-in-an-archive", _image_archive(("train/cat/1.png", b"", tarfile.CHRTYPE)),
             "member train/cat/1.png is a character device, not a regular file", data="{w}/images.tar.gz"),
    data_row("data-a-fifo-in-an-archive", _image_archive(("train/cat/1.png", b"", tarfile.FIFOTYPE)),
             "member train/cat/1.png is a FIFO (named pipe), not a regular file", data="{w}/images.tar.gz"),
    data_row("data-a-fifo-as-data", lambda workspace: os.mkfifo(os.path.join(workspace, "pipe")),
             "pipe: not a folder nor a .tar.gz archive", data="{w}/pipe"),
    data_row("data-a-device-as-data", None, "--data /dev/zero: not a folder nor a .tar.gz archive", data="/dev/zero"),
    data_row("data-cifar-labels-out-of-range", _cifar_folder([1, 12]),
             "data_batch_3 of CIFAR-10 holds labels 1..12, not integers in 0..9",
             data="{w}/cifar/cifar-10-batches-py"),
    data_row("data-cifar-negative-labels", _cifar_folder([-1, 2]),
             "data_batch_3 of CIFAR-10 holds labels -1..2, not integers in 0..9",
             data="{w}/cifar/cifar-10-batches-py"),
    data_row("data-cifar-float-labels", _cifar_folder([1.7, 2.0]),
             "data_batch_3 of CIFAR-10 holds labels float64, not integers in 0..9",
             data="{w}/cifar/cifar-10-batches-py"),
    data_row("data-cifar-a-label-too-many", _cifar_folder([1, 2, 3]),
             "data_batch_3 of CIFAR-10 holds data uint8 (2, 3072) and labels of shape (3,)",
             data="{w}/cifar/cifar-10-batches-py"),
    train_row("data-missing", ["--data", "{w}/nowhere"], "--data {w}/nowhere: no such file or folder"),
    train_row("data-a-text-file", ["--data", "{w}/notes.txt"], "not a folder nor a .tar.gz archive", status=1),
    train_row("data-an-empty-folder", ["--data", "{w}/empty"], "expected train/ and test/ folders", status=1),
    train_row("data-a-damaged-archive", ["--data", "{w}/damaged.tar.gz"], "damaged.tar.gz is truncated or corrupt",
              status=1),
    train_row("data-a-wrong-cifar-archive", ["--data", "{w}/fake-cifar"], "md5", status=1),
]

CATALOGUE = {"options": OPTIONS, "run folders": RUN_FOLDERS, "run files": RUN_FILES, "plots": PLOTS,
             "data": DATA}
ROWS = [row for rows in CATALOGUE.values() for row in rows]


# -- the workspace ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def common_workspace(tmp_path_factory):
    """A finished one-epoch run, a foreign folder, and files a user might point at by mistake."""
    workspace = tmp_path_factory.mktemp("common")
    with pytest.MonkeyPatch.context() as patch:       # the decoded sample lands in the workspace's cache
        patch.setenv("MINIRES_DATA", str(workspace / "cache"))
        assert main(["train", *SMALL_RUN, "--epochs", "1", "--out", str(workspace / "run")]) == 0
    (workspace / "foreign").mkdir()
    (workspace / "foreign" / "config.json").write_text('{"another": "program"}')
    (workspace / "notes.txt").write_text("not data")
    (workspace / "empty").mkdir()
    (workspace / "damaged.tar.gz").write_bytes(b"\x1f\x8b\x08 this is not a whole gzip file")
    (workspace / "fake-cifar").mkdir()
    (workspace / "fake-cifar" / "cifar-10-python.tar.gz").write_bytes(b"not the published archive")
    return workspace


def snapshot(folder) -> dict:
    """Every entry under ``folder``: relative path -> the sha256 of a regular file's bytes,
    a link's target, or the kind of anything else (a folder, a FIFO: never opened)."""
    found = {}
    for root, folders, files in os.walk(folder):
        for name in folders + files:
            path = os.path.join(root, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                entry = "link to " + os.readlink(path)
            elif stat.S_ISREG(mode):
                with open(path, "rb") as file:
                    entry = hashlib.sha256(file.read()).hexdigest()
            else:
                entry = stat.filemode(mode)
            found[os.path.relpath(path, folder)] = entry
    return found


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input(row, common_workspace, tmp_path, monkeypatch, capsys):
    """One row: one line, its exit status, and the workspace (data cache included) unchanged."""
    workspace = tmp_path / "workspace"
    shutil.copytree(common_workspace, workspace, symlinks=True)
    if row.setup is not None:
        row.setup(str(workspace))
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("MINIRES_DATA", str(workspace / "cache"))
    monkeypatch.delenv("MINIRES_DEVICE", raising=False)
    for name, value in row.environment.items():
        monkeypatch.setenv(name, value)
    before = snapshot(workspace)
    capsys.readouterr()
    try:
        status = main([argument.format(w=workspace) for argument in row.arguments])
    except SystemExit as exit_info:           # argparse's usage errors
        status = exit_info.code
    captured = capsys.readouterr()
    lines = [line for line in captured.err.strip().splitlines() if not line.startswith("minires: using")]
    assert "Traceback" not in captured.err and len(lines) == 1, captured.err
    assert lines[0].startswith("minires: error: "), lines[0]
    assert row.fragment.format(w=workspace) in lines[0]
    assert status == row.status, lines[0]
    assert snapshot(workspace) == before


def test_the_catalogue_covers_every_class():
    counts = {name: len(rows) for name, rows in CATALOGUE.items()}
    assert len(ROWS) >= 100, counts
    assert len({row.id for row in ROWS}) == len(ROWS)
    assert all(count >= 5 for count in counts.values()), counts
