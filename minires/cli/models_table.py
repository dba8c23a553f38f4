"""The command line's models, their options, and the data each kind takes.

Each model name maps to a builder in minires.models and a family (or kind). The
family names are the ones the builders take, so that ``--model residual_v2`` and
``models.cifar_net("residual_v2", ...)`` name the same net:

    name                  builds                              block options it takes
    plain                 cifar_net("plain")                  -
    residual              cifar_net("residual")               shortcut, zero_init_last_bn
    residual_v2           cifar_net("residual_v2")            shortcut, zero_init_last_bn
    highway               cifar_net("highway")                gate, gate_bias, post_activation,
                                                              width_factor, shortcut
    van                   cifar_net("van")                    shortcut
    scaled_residual       cifar_net("scaled_residual")        variant, gate_bias, dropout_p, shortcut
    simplified-plain      simplified_net("plain")             init
    simplified-residual   simplified_net("residual")          init
    mlp-plain ...         mlp_net("plain"), ("residual"),     gate_bias (highway)
                          ("highway"), ("van")

A block option given to a model that does not take it is an error, not silently
ignored: a study that meant to change the gate bias must not run without it.
"""

import argparse

from minires import models
from minires.cli.errors import CommandError
from minires.data import MNIST, FashionMNIST, transforms

MODELS = {
    "plain": ("cifar", "plain", ()),
    "residual": ("cifar", "residual", ("shortcut", "zero_init_last_bn")),
    "residual_v2": ("cifar", "residual_v2", ("shortcut", "zero_init_last_bn")),
    "highway": ("cifar", "highway", ("gate", "gate_bias", "post_activation", "width_factor", "shortcut")),
    "van": ("cifar", "van", ("shortcut",)),
    "scaled_residual": ("cifar", "scaled_residual", ("variant", "gate_bias", "dropout_p", "shortcut")),
    "simplified-plain": ("simplified", "plain", ("init",)),
    "simplified-residual": ("simplified", "residual", ("init",)),
    "mlp-plain": ("mlp", "plain", ()),
    "mlp-residual": ("mlp", "residual", ()),
    "mlp-highway": ("mlp", "highway", ("gate_bias",)),
    "mlp-van": ("mlp", "van", ()),
}
MODEL_NAMES = tuple(MODELS)
# The names minires 0.1 gave some models on the command line: refused with the new
# name, except in the config.json of a run made then, which resumes under the new one.
RENAMED_MODELS = {"resnet": "residual", "resnet-v2": "residual_v2", "scaled-resnet": "scaled_residual",
                  "simplified-resnet": "simplified-residual", "mlp-resnet": "mlp-residual"}


def model_name(text):
    """argparse's type for --model: a name of MODELS, with a hint for a renamed one."""
    if text in RENAMED_MODELS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is now called {RENAMED_MODELS[text]!r}, the family name minires.models takes")
    if text not in MODELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a model; choose from {', '.join(MODEL_NAMES)}")
    return text
BLOCK_OPTIONS = ("shortcut", "zero_init_last_bn", "gate", "gate_bias", "post_activation",
                 "width_factor", "variant", "dropout_p", "init")
MNIST_DATA = {"mnist": MNIST, "fashion-mnist": FashionMNIST}
DATA_NAMES = ("sample", "cifar10", *MNIST_DATA)     # what --data takes besides a path


def add_block_option_arguments(parser):
    group = parser.add_argument_group("block options (each applies to the models named)")
    add = group.add_argument
    add("--shortcut", choices=("A", "B"),
        help="when the shape changes: A zero-pads channels, B a 1x1 conv + BN (resnet, highway, van, scaled-resnet)")
    add("--zero-init-last-bn", action="store_true", default=None,
        help="start each block as its shortcut (resnet, resnet-v2)")
    add("--gate", choices=("full", "1x1"), help="the transform gate's form (highway)")
    add("--gate-bias", type=float, help="the gate's initial bias (highway, scaled-resnet, mlp-highway)")
    add("--post-activation", action="store_true", default=None, help="ReLU after the combine (highway)")
    add("--width-factor", type=float,
        help="the inner width of H and T only, as a factor (highway); to narrow every stage by 0.875, as "
             "the post 'Weighted Skip Connections are Not Harmful for Deep Nets' does, give --width 14 "
             "instead (14/28/56 channels: 2.65M parameters at depth 110)")
    add("--variant", choices=("learned", "constant", "shortcut_gating", "conv1x1", "dropout"),
        help="the shortcut's scaling (scaled-resnet)")
    add("--dropout-p", type=float, help="the shortcut dropout's probability (scaled-resnet --variant dropout)")
    add("--init", choices=("hardt_ma", "kaiming"), help="initialisation (simplified-plain, simplified-resnet)")


def is_van(settings) -> bool:
    return MODELS[settings["model"]][1] == "van"


def is_cifar(settings) -> bool:
    """Whether the model is one of cifar_net's families (the nets that have stages)."""
    return MODELS[settings["model"]][0] == "cifar"


def block_options(settings) -> dict:
    """The block options the user gave, checked against what the model takes."""
    _, _, accepted = MODELS[settings["model"]]
    given = {option: settings[option] for option in BLOCK_OPTIONS if settings.get(option) is not None}
    refused = [option for option in given if option not in accepted]
    if refused:
        names = ", ".join("--" + option.replace("_", "-") for option in refused)
        takes = ", ".join("--" + option.replace("_", "-") for option in accepted) or "none"
        raise CommandError(f"{names} does not apply to --model {settings['model']} (it takes: {takes})")
    return given


def check_model_settings(settings):
    """The depth and block options of settings["model"], checked before any data is read."""
    builder, _, _ = MODELS[settings["model"]]
    block_options(settings)
    depth = settings["depth"]
    try:
        if builder == "cifar":
            models.blocks_per_stage(depth, settings.get("stages") or 3)
        elif depth < 3:
            raise ValueError(f"{builder}_net: depth must be >= 3 (the first layer, at least one "
                             f"block, the last layer); got {depth}")
    except (ValueError, TypeError) as error:
        raise CommandError(f"--model {settings['model']} --depth {depth}: {error}") from None


def build_model(settings, num_classes, image_shape):
    """The net named by settings["model"], for images of image_shape (C, H, W)."""
    builder, family, _ = MODELS[settings["model"]]
    options = block_options(settings)
    width = {} if settings["width"] is None else {"width": settings["width"]}
    fast = settings["fast"]
    channels, height, width_pixels = image_shape
    try:
        if builder == "cifar":
            if channels != 3:
                raise CommandError(f"--model {settings['model']} takes RGB images; this data has "
                                   f"{channels} channel(s): use an mlp-* model")
            return models.cifar_net(family, settings["depth"], num_classes=num_classes, fast=fast,
                                    stages=settings.get("stages") or 3, **width, **options)
        if builder == "simplified":
            return models.simplified_net(family, settings["depth"], num_classes=num_classes,
                                         initialization=options.get("init"), fast=fast, **width)
        return models.mlp_net(family, settings["depth"], in_features=channels * height * width_pixels,
                              num_classes=num_classes, fast=fast, **width, **options)
    except (ValueError, TypeError) as error:
        raise CommandError(f"--model {settings['model']} --depth {settings['depth']}: {error}") from None


def datasets(settings, datasets_from_path, progress=True):
    """(train set, test set) for settings["data"], with augmentation for training.

    ``progress`` shows the bars of downloads and of decoding images (--no-progress hides them).
    """
    data = settings["data"]
    if data in MNIST_DATA:
        dataset_class = MNIST_DATA[data]
        to_float = transforms.ToFloat()
        return (dataset_class(train=True, download=settings["download"], transform=to_float, progress=progress),
                dataset_class(train=False, download=settings["download"], transform=to_float,
                              progress=progress))
    test_transform = transforms.cifar10_test_transform()
    train_transform = transforms.cifar10_train_transform() if settings["augment"] else test_transform
    return datasets_from_path(data, train_transform, test_transform, download=settings["download"],
                              progress=progress)
