"""The command line's models, their options, and the data each kind takes.

Each model name maps to a builder in minires.models and a family (or kind). The
family names are the ones the builders take, so that ``--model residual_v2`` and
``models.cifar_net("residual_v2", ...)`` name the same net:

    name                  builds                              block options it takes
    plain                 cifar_net("plain")                  -
    residual              cifar_net("residual")               shortcut, zero_init_last_bn, placement
    residual_v2           cifar_net("residual_v2")            shortcut, zero_init_last_bn
    highway               cifar_net("highway")                gate, gate_bias, post_activation,
                                                              width_factor, shortcut, zero_init_last_bn
    van                   cifar_net("van")                    shortcut
    scaled_residual       cifar_net("scaled_residual")        variant, residual_scale, shortcut_scale,
                                                              gate_bias, dropout_p, shortcut
    simplified-plain      simplified_net("plain")             init
    simplified-residual   simplified_net("residual")          init
    mlp-plain ...         mlp_net("plain"), ("residual"),     gate_bias (highway)
                          ("highway"), ("van")

A block option given to a model that does not take it is an error, not silently
ignored: a study that meant to change the gate bias must not run without it. So is one
given to a variant or placement that does not use it (block_options).

The rows of "Identity Mappings in Deep Residual Networks" (He, Zhang, Ren and Sun,
2016), ResNet-110 on CIFAR-10, each one command (add --depth 110 --data cifar10 and the
schedule); the test errors (%) are those the paper reports (quoted; its text is not in
shared/papers, so they were not checked against it here):

    Table 1, the shortcut (all on the original unit, ReLU after the addition)
    original                     6.61   --model residual
    constant scaling 0.5, F 1    fail   --model scaled_residual --variant constant_scaling
    constant scaling 0.5, 0.5   12.35   --model scaled_residual --variant constant_scaling --residual-scale 0.5
    exclusive gating b_g = -6    8.70   --model scaled_residual --variant exclusive_gating --gate-bias -6
      (fail at b_g = 0..-5, 9.81 at -7; the same formula: --model highway --gate 1x1 --post-activation)
    shortcut-only gating b_g 0  12.86   --model scaled_residual --variant shortcut_only_gating --gate-bias 0
    shortcut-only gating b_g -6  6.91   --model scaled_residual --variant shortcut_only_gating --gate-bias -6
    1x1 conv shortcut           12.22   --model scaled_residual --variant conv1x1_shortcut
    dropout shortcut 0.5         fail   --model scaled_residual --variant dropout_shortcut --dropout-p 0.5

    Table 2, where the activations go
    original                     6.61   --model residual --placement original
    BN after addition            8.17   --model residual --placement bn_after_addition
    ReLU before addition         7.84   --model residual --placement relu_before_addition
    ReLU-only pre-activation     6.71   --model residual --placement relu_only_preactivation
    full pre-activation          6.37   --model residual --placement full_preactivation
                                        (the net --model residual_v2 builds)

The old variant names (constant, shortcut_gating, conv1x1, dropout) still work, as
synonyms of the paper's: a run's config.json may hold them.
"""

import argparse

from minires import models, nn
from minires.cli.errors import CommandError
from minires.data import MNIST, FashionMNIST, transforms
from minires.nn.block_variants import OLD_VARIANT_NAMES

MODELS = {
    "plain": ("cifar", "plain", ()),
    "residual": ("cifar", "residual", ("shortcut", "zero_init_last_bn", "placement")),
    "residual_v2": ("cifar", "residual_v2", ("shortcut", "zero_init_last_bn")),
    "highway": ("cifar", "highway", ("gate", "gate_bias", "post_activation", "width_factor", "shortcut",
                                     "zero_init_last_bn")),
    "van": ("cifar", "van", ("shortcut",)),
    "scaled_residual": ("cifar", "scaled_residual", ("variant", "residual_scale", "shortcut_scale", "gate_bias",
                                                     "dropout_p", "shortcut")),
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
                 "width_factor", "variant", "dropout_p", "init", "placement", "residual_scale", "shortcut_scale")
PLACEMENTS = nn.ResidualBlock.PLACEMENTS
VARIANTS = nn.ScaledResidualBlock.VARIANTS
VARIANT_NAMES = (*VARIANTS, *OLD_VARIANT_NAMES)      # what --variant and a config.json may hold
# The variants of scaled_residual each of its options applies to (the others use none of them).
VARIANT_OPTIONS = {"residual_scale": nn.ScaledResidualBlock.SCALED_VARIANTS,
                   "shortcut_scale": nn.ScaledResidualBlock.SCALED_VARIANTS,
                   "gate_bias": nn.ScaledResidualBlock.GATED_VARIANTS,
                   "dropout_p": ("dropout_shortcut",)}
MNIST_DATA = {"mnist": MNIST, "fashion-mnist": FashionMNIST}
DATA_NAMES = ("sample", "cifar10", *MNIST_DATA)     # what --data takes besides a path


def add_block_option_arguments(parser):
    group = parser.add_argument_group("block options (each applies to the models named)")
    add = group.add_argument
    add("--shortcut", choices=("A", "B"),
        help="when the shape changes: A zero-pads channels, B a 1x1 conv + BN (residual, residual_v2, highway, "
             "van, scaled_residual)")
    add("--zero-init-last-bn", action="store_true", default=None,
        help="start each block as its shortcut (residual, residual_v2; not with --placement bn_after_addition "
             "or relu_before_addition); highway: H's last BN at 0, so each block starts as x (1 - T(x))")
    add("--placement", choices=PLACEMENTS,
        help="where the residual unit's BN and ReLUs go, the rows of Table 2 of 'Identity Mappings in Deep "
             "Residual Networks' (residual; default original; full_preactivation is residual_v2's net)")
    add("--gate", choices=("full", "1x1"), help="the transform gate's form (highway)")
    add("--gate-bias", type=float,
        help="the gate's initial bias (highway, mlp-highway; scaled_residual --variant exclusive_gating or "
             "shortcut_only_gating: b_g, default -6)")
    add("--post-activation", action="store_true", default=None, help="ReLU after the combine (highway)")
    add("--width-factor", type=float,
        help="the inner width of H and T only, as a factor (highway); to narrow every stage by 0.875, as "
             "the post 'Weighted Skip Connections are Not Harmful for Deep Nets' does, give --width 14 "
             "instead (14/28/56 channels: 2.65M parameters at depth 110)")
    add("--variant", choices=VARIANT_NAMES, metavar="VARIANT",
        help=f"the shortcut, a row of Table 1 of 'Identity Mappings in Deep Residual Networks' "
             f"(scaled_residual): {', '.join(VARIANTS)} (default learned; the old names "
             f"{', '.join(OLD_VARIANT_NAMES)} still work)")
    add("--residual-scale", type=float,
        help="the branch's scale (scaled_residual --variant constant_scaling: default 1; learned: its start, 0.5)")
    add("--shortcut-scale", type=float,
        help="the shortcut's scale (scaled_residual --variant constant_scaling: default 0.5; learned: its start, "
             "0.5)")
    add("--dropout-p", type=float,
        help="the shortcut dropout's probability (scaled_residual --variant dropout_shortcut; default 0.5)")
    add("--init", choices=("hardt_ma", "kaiming"), help="initialisation (simplified-plain, simplified-residual)")


def is_van(settings) -> bool:
    return MODELS[settings["model"]][1] == "van"


def is_cifar(settings) -> bool:
    """Whether the model is one of cifar_net's families (the nets that have stages)."""
    return MODELS[settings["model"]][0] == "cifar"


def block_options(settings) -> dict:
    """The block options the user gave, checked against what the model takes, and what
    its variant (scaled_residual) or placement (residual) uses."""
    _, _, accepted = MODELS[settings["model"]]
    given = {option: settings[option] for option in BLOCK_OPTIONS if settings.get(option) is not None}
    refused = [option for option in given if option not in accepted]
    if refused:
        names = ", ".join("--" + option.replace("_", "-") for option in refused)
        takes = ", ".join("--" + option.replace("_", "-") for option in accepted) or "none"
        raise CommandError(f"{names} does not apply to --model {settings['model']} (it takes: {takes})")
    if settings["model"] == "scaled_residual":
        variant = given.get("variant", "learned")
        shown = f"--variant {variant}" if "variant" in given else "the default --variant learned"
        for option, variants in VARIANT_OPTIONS.items():
            if option in given and OLD_VARIANT_NAMES.get(variant, variant) not in variants:
                raise CommandError(f"--{option.replace('_', '-')} does not apply to {shown} (it applies to "
                                   f"--variant {' and '.join(variants)})")
    if given.get("zero_init_last_bn") and given.get("placement") in ("bn_after_addition", "relu_before_addition"):
        raise CommandError(f"--zero-init-last-bn cannot start a --placement {given['placement']} block as its "
                           "shortcut: bn_after_addition normalizes after the addition, and relu_before_addition's "
                           "branch ends with a ReLU that a zero start would leave with no gradient; leave it out")
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
