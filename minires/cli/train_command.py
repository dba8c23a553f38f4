"""``minires train``: build a net, its data, optimiser and schedule; train; record the run.

With no arguments it is the README's main job: a ResNet-8 on the CIFAR-10 sample that
ships with minires, a few minutes on a laptop CPU. Every setting has a flag; the
models, their options and the data they take are in models_table.py.

The command owns its process, so it asks the C allocator to keep freed memory for
reuse (minires.fast.keep_freed_memory: fewer page faults per step), which minires as a
library never does.

Resuming (``--resume --out RUN``) reads the run's config.json and checkpoint.npz and
continues where the last finished epoch left off; the result equals an uninterrupted
run's, bit for bit on the CPU. Only --epochs (to train further), --device and
--no-progress may differ from the saved settings.

``run`` checks everything before it writes anything, in this order: the options
(settings_check.py), the data, whether the net can fit in memory (memory_check.py),
the net and, on a resume, the run's config.json and checkpoint. Only then does it
enter ``run_directory.writing()``, where an old run is replaced (--overwrite) and the
run's files are written. A run whose loss or parameters stop being finite ends with
TrainingDiverged, its last finite epoch's checkpoint kept.
"""

import argparse
import datetime
import os
import sys
import warnings

from minires import backend, checkpoint, fast, optim, tracking
from minires.cli import models_table
from minires.cli.errors import CommandError
from minires.cli.info_command import installed_versions
from minires.cli.memory_check import check_fits
from minires.cli.settings_check import SCHEDULES, check_saved_settings, check_settings
from minires.data import DataLoader, datasets_from_path, random_subset
from minires.run_directory import RunDirectory
from minires.train import TrainingDiverged, fit, restore_training_state, training_state

# The main job's settings: what `minires train` with no arguments does.
DEFAULTS = {
    "model": "residual", "depth": 8, "width": None, "stages": 3, "data": "sample", "download": False,
    "train_subset": None, "test_subset": None, "augment": True,
    "epochs": 6, "batch_size": 128, "optimizer": "sgd", "lr": 0.1, "momentum": 0.9,
    "weight_decay": 5e-4, "nesterov": False, "schedule": "cosine", "milestones": None,
    "gamma": 0.1, "warmup_epochs": 0, "max_grad_norm": None, "multiplier_lr_fraction": 0.1,
    "no_lagrange_multipliers": False, "alpha_lr": None, "alpha_loss": "mean",
    "seed": 0, "device": "auto", "fast": True, "track": None, "track_every": 20,
    **{option: None for option in models_table.BLOCK_OPTIONS},
}
# Settings that may change when a run is resumed; every other one must match.
RESUMABLE_CHANGES = ("epochs", "device")


def positive_int(text):
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


positive_int.__name__ = "positive integer"   # what argparse names in "invalid positive integer value"


def _track_kinds(text):
    try:
        return tracking.parse_kinds(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_parser(commands):
    parser = commands.add_parser("train", help="train a net and write a run folder",
                                 description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--model", type=models_table.model_name, metavar="MODEL",
        help=f"the family: {', '.join(models_table.MODEL_NAMES)} (default: residual)")
    add("--depth", type=positive_int, help="layers with weights; 6n+2 for the CIFAR nets (default: 8)")
    add("--width", type=positive_int, help="channels of the first stage, or units of an MLP")
    add("--stages", type=int, choices=(3, 4),
        help="stages of a CIFAR net: 3 (the ResNet paper's, depth 6n+2; default) or 4 (the VAN paper's, "
             "depth 8n+2)")
    add("--data", help="sample (bundled, default), cifar10 (the official archive in the cache), "
                       "mnist, fashion-mnist, or a PATH: a folder or .tar.gz with train/ and test/ "
                       "class folders, or one holding cifar-10-python.tar.gz")
    add("--download", action="store_true", default=None, help="download cifar10/mnist if missing")
    add("--train-subset", type=positive_int, help="train on this many images (seeded random choice)")
    add("--test-subset", type=positive_int, help="test on this many images (seeded random choice)")
    add("--no-augment", dest="augment", action="store_false", default=None,
        help="no random crop and flip")
    add("--epochs", type=positive_int, help="default: 6")
    add("--batch-size", type=positive_int, help="default: 128")
    add("--optimizer", choices=("sgd", "adam", "adamw"), help="default: sgd")
    add("--lr", type=float, help="peak learning rate (default: 0.1)")
    add("--momentum", type=float, help="SGD momentum (default: 0.9)")
    add("--weight-decay", type=float, help="default: 5e-4")
    add("--nesterov", action="store_true", default=None)
    add("--schedule", choices=SCHEDULES, help="stepped after every batch (default: cosine)")
    add("--milestones", type=positive_int, nargs="+",
        help="multistep: epochs after which lr is multiplied by --gamma (default: 50%% and 75%%)")
    add("--gamma", type=float, help="multistep factor (default: 0.1)")
    add("--warmup-epochs", type=int, help="linear warm-up before the schedule (default: 0)")
    add("--max-grad-norm", type=float, help="clip the gradients' total norm (default: no clipping)")
    add("--multiplier-lr-fraction", type=float,
        help="VAN: the Lagrange multipliers' step as a fraction of lr (default: 0.1, the paper's CIFAR value)")
    add("--no-lagrange-multipliers", action="store_true", default=None,
        help="VAN (lambda = 0): the alphas learned freely, clipped to [0, 1], with no push towards 1")
    add("--alpha-lr", type=float,
        help="VAN: the alphas' step size, fixed (default: the weights' lr, schedule included, as in the "
             "paper); the multipliers' step is --multiplier-lr-fraction times it")
    add("--alpha-loss", choices=("mean", "sum"),
        help="VAN: take dC/dalpha from the batch's mean loss (default) or its summed loss (N times "
             "larger, so the skips go more slowly)")
    add("--seed", type=int, help="default: 0")
    add("--device", help="auto (CUDA when usable), cpu or cuda (default: $MINIRES_DEVICE, else auto)")
    add("--reference-kernels", dest="fast", action="store_false", default=None,
        help="compute with the reference ops of minires.functional instead of minires.fast's "
             "kernels: the same values, several times slower on the CPU, but 2-3x faster on a "
             "CUDA GPU (benchmarks/RESULTS.md)")
    models_table.add_block_option_arguments(parser)
    add("--track", type=_track_kinds, metavar="KINDS",
        help=f"measure the net every --track-every steps and write tracks.jsonl and tracks.png: "
             f"a comma-separated list of {', '.join(tracking.KINDS)} (see minires.tracking)")
    add("--track-every", type=positive_int, metavar="STEPS", help="steps between two records (default: 20)")
    add("--out", help="the run folder (default: runs/<model><depth>-<data>-<time>)")
    add("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    add("--overwrite", action="store_true", help="replace the run already in --out")
    add("--no-progress", dest="progress", action="store_false", help="no progress bars")
    parser.set_defaults(run=run)


def given_settings(arguments) -> tuple:
    """(the settings the user typed, what chose the device).

    argparse leaves the options not typed None. Without --device, the environment
    variable MINIRES_DEVICE chooses the device when it is set, as it does for the
    library; then the device counts as typed, and its mistakes name the variable.
    """
    given = {name: getattr(arguments, name) for name in DEFAULTS if getattr(arguments, name) is not None}
    environment_device = os.environ.get("MINIRES_DEVICE", "").strip().lower()
    if "device" not in given and environment_device:
        given["device"] = environment_device
        return given, "MINIRES_DEVICE"
    return given, "--device"


def resolve_settings(arguments, saved, given) -> dict:
    """The defaults, then a resumed run's saved settings (None for a new run), then what
    the user typed (``given``, from :func:`given_settings`)."""
    if saved is None:
        return {**DEFAULTS, **given}
    saved = {**DEFAULTS, **saved}                 # a run of minires 0.1 has no "fast": it ran them
    saved["model"] = models_table.RENAMED_MODELS.get(saved["model"], saved["model"])
    conflicts = {name: (saved.get(name), value) for name, value in given.items()
                 if name not in RESUMABLE_CHANGES and saved.get(name) != value}
    if conflicts:
        described = ", ".join(_described_change(name, old, new) for name, (old, new) in conflicts.items())
        raise CommandError(f"cannot resume {arguments.out} with different settings: {described}; "
                           "resume with the run's own settings, or start a new run with another --out")
    return {**DEFAULTS, **{name: saved[name] for name in DEFAULTS if name in saved}, **given}


def _described_change(name, old, new) -> str:
    """"--lr 0.5 (the run has 0.1)", as the user would have typed the option."""
    if name == "fast":
        return "--reference-kernels (the run used the fast kernels)"
    return f"--{name.replace('_', '-')} {new} (the run has {old})"


def choose_subset(dataset, size, seed, which):
    if size is None:
        return dataset
    if size > len(dataset):
        raise CommandError(f"--{which}-subset {size} is larger than the {which} set ({len(dataset)} images)")
    return random_subset(dataset, size, seed)


def check_data_exists(data):
    """A --data PATH that does not exist is a usage mistake, found before anything runs."""
    if data not in models_table.DATA_NAMES and not os.path.exists(data):
        raise CommandError(f"--data {data}: no such file or folder; use "
                           f"{', '.join(models_table.DATA_NAMES)}, or the path of a folder or .tar.gz")


def build_data(settings, device, progress=True):
    train_set, test_set = models_table.datasets(settings, datasets_from_path, progress)
    train_set = choose_subset(train_set, settings["train_subset"], settings["seed"], "train")
    test_set = choose_subset(test_set, settings["test_subset"], settings["seed"] + 1, "test")
    train_loader = DataLoader(train_set, settings["batch_size"], shuffle=True, seed=settings["seed"],
                              device=device)
    test_loader = DataLoader(test_set, settings["batch_size"], shuffle=False, device=device)
    return train_loader, test_loader


def build_optimizer(settings, parameters):
    if settings["optimizer"] == "sgd":
        return optim.SGD(parameters, lr=settings["lr"], momentum=settings["momentum"],
                         weight_decay=settings["weight_decay"], nesterov=settings["nesterov"])
    optimizer_class = optim.Adam if settings["optimizer"] == "adam" else optim.AdamW
    return optimizer_class(parameters, lr=settings["lr"], weight_decay=settings["weight_decay"])


def build_scheduler(settings, optimizer, steps_per_epoch):
    """The schedule, stepped after every batch: warm-up, then cosine or multistep."""
    total_steps = settings["epochs"] * steps_per_epoch
    warmup_steps = settings["warmup_epochs"] * steps_per_epoch
    if settings["schedule"] == "cosine":
        main = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps - warmup_steps)
    elif settings["schedule"] == "multistep":
        epochs = settings["epochs"]
        milestones = settings["milestones"] or [epochs // 2, (3 * epochs) // 4]
        main = optim.lr_scheduler.MultiStepLR(optimizer, [epoch * steps_per_epoch - warmup_steps for epoch in milestones
                                             if epoch * steps_per_epoch > warmup_steps],
                                 gamma=settings["gamma"])
    else:
        main = None
    if warmup_steps == 0:
        return main
    warmup = optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0 / warmup_steps, total_iters=warmup_steps)
    if main is None:
        return warmup
    return optim.lr_scheduler.SequentialLR(optimizer, [warmup, main], milestones=[warmup_steps])


def default_out(settings) -> str:
    data_name = os.path.basename(os.path.normpath(settings["data"])).split(".")[0]
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join("runs", f"{settings['model']}{settings['depth']}-{data_name}-{stamp}")


def run(arguments):
    """Checks everything, then trains; nothing is written before every check has passed."""
    if arguments.resume and arguments.overwrite:
        raise CommandError("--resume continues the run in --out and --overwrite replaces it; choose one")
    if arguments.resume and arguments.out is None:
        raise CommandError("--resume needs --out, the run folder to continue")
    run_directory, saved = None, None
    if arguments.resume:
        run_directory = RunDirectory(arguments.out, "resume")
        saved = run_directory.read_config()["settings"]
        check_saved_settings(saved, run_directory.file("config.json"))
    given, device_source = given_settings(arguments)
    settings = check_settings(resolve_settings(arguments, saved, given), given, device_source)
    check_data_exists(settings["data"])
    models_table.check_model_settings(settings)
    out = arguments.out or default_out(settings)
    if run_directory is None:
        run_directory = RunDirectory(out, "overwrite" if arguments.overwrite else "new")

    backend.set_device(settings["device"])
    device = backend.get_device()
    if device == "cpu":
        fast.keep_freed_memory()          # this process is the command's own: see the module docstring
    backend.manual_seed(settings["seed"])
    train_loader, test_loader = build_data(settings, device, arguments.progress)
    image_shape = test_loader.dataset.batch([0])[0].shape[1:]      # (C, H, W); the test transform draws nothing
    num_classes = len(test_loader.dataset.classes)
    check_fits(settings, lambda depth, width: models_table.build_model(
        {**settings, "depth": depth, "width": width}, num_classes, image_shape),
        image_shape, min(settings["batch_size"], len(train_loader.dataset)), device)
    model = models_table.build_model(settings, num_classes, image_shape).to(device)
    if settings["track"]:
        try:
            tracking.check_kinds_fit(settings["track"], model)
        except ValueError as error:
            raise CommandError(f"--track {error}") from None
    van = (optim.VANConstraint(model, settings["multiplier_lr_fraction"],
                               lagrange_multipliers=not settings["no_lagrange_multipliers"],
                               alpha_lr=settings["alpha_lr"], alpha_loss=settings["alpha_loss"])
           if models_table.is_van(settings) else None)
    optimizer = build_optimizer(settings, van.parameters_except_alphas() if van else model.parameters())
    scheduler = build_scheduler(settings, optimizer, len(train_loader))

    start_epoch, history = 0, []
    if arguments.resume:
        start_epoch, history = resume_state(run_directory, model, optimizer, scheduler, van, train_loader)
        if start_epoch >= settings["epochs"]:
            print(f"{out} has already trained {start_epoch} epochs; pass --epochs N (N > {start_epoch}) "
                  "to train further")
            return 0
    tracker = None
    if settings["track"]:
        records = run_directory.read_tracks(last_epoch=start_epoch) if start_epoch else []
        tracker = tracking.Tracker(model, settings["track"], settings["track_every"],
                                   steps_done=start_epoch * len(train_loader), records=records)

    with run_directory.writing():             # everything is checked: now the folder is written
        if arguments.resume:
            print(f"resuming {out} after epoch {start_epoch}")
        run_directory.write_config({
            "settings": settings, "device": device, "command": sys.argv,
            "started": datetime.datetime.now().isoformat(timespec="seconds"),
            "versions": installed_versions(), "parameters": model.num_parameters(),
            "train_images": len(train_loader.dataset), "test_images": len(test_loader.dataset),
        })
        title = f"{settings['model']}-{settings['depth']} on {settings['data']}"
        kernels = "minires.fast's kernels" if settings["fast"] else "the reference ops (--reference-kernels)"
        print(f"{title}: {model.num_parameters():,} parameters, {len(train_loader.dataset)} training and "
              f"{len(test_loader.dataset)} test images, {device}, {kernels}; writing to {out}")

        saved_epoch = [start_epoch]          # the epoch checkpoint.npz holds, for the message below

        def on_epoch_end(record, history):
            saved_epoch[0] = record["epoch"]
            if tracker is not None:           # before the checkpoint: see RunDirectory.write_tracks
                run_directory.write_tracks(tracker.records, title)
            run_directory.save_checkpoint(training_state(model, optimizer, scheduler, van, train_loader, history))
            run_directory.write_metrics(history)
            run_directory.write_curves(history, title)

        try:
            with warnings.catch_warnings():
                # A diverging run is reported by fit's check, in one line; NumPy's warnings
                # about the overflows on the way there would come first, many lines of them.
                warnings.filterwarnings("ignore", r"(overflow|invalid value|divide by zero) encountered",
                                        RuntimeWarning)
                history = fit(model, train_loader, test_loader, optimizer, settings["epochs"], scheduler,
                              scheduler_interval="step", van=van, max_grad_norm=settings["max_grad_norm"],
                              start_epoch=start_epoch, history=history, on_epoch_end=on_epoch_end,
                              progress=arguments.progress,
                              after_step=tracker.after_step if tracker is not None else None)
        except TrainingDiverged as error:
            kept = (f"{run_directory.file('checkpoint.npz')} keeps epoch {saved_epoch[0]}, the last finite one"
                    if saved_epoch[0] else "no checkpoint was written")
            raise TrainingDiverged(f"{error}; {kept}") from None
    accuracy = 100.0 * (1.0 - history[-1]["test_error"])
    chance = 100.0 / num_classes
    print(f"final test accuracy {accuracy:.2f}% (chance: {chance:.0f}%)")
    print(f"curves: {run_directory.file('curves.png')}   metrics: {run_directory.file('metrics.jsonl')}")
    return 0


def resume_state(run_directory, model, optimizer, scheduler, van, train_loader):
    """Loads, checks and restores the checkpoint of a resumed run: (epochs done, history)."""
    path = run_directory.file("checkpoint.npz")
    state = run_directory.load_checkpoint()
    checkpoint.check_training_state(state, path)
    try:
        return restore_training_state(state, model, optimizer, scheduler, van, train_loader)
    except (RuntimeError, ValueError, KeyError, TypeError) as error:     # the run's files disagree
        reason = " ".join(str(error).split())
        raise checkpoint.CheckpointError(f"the checkpoint {path} does not fit the run its config.json describes "
                              f"({reason}); was one of them replaced? Start a new run") from None
