"""Modules: layers, blocks and the machinery that holds their weights, as torch.nn.

- module: Module (parameters, buffers, train/eval, apply, to/cuda/cpu, zero_grad, state_dict) and Parameter
- layers: Conv2d, Linear, BatchNorm1d, BatchNorm2d
- stateless: ReLU, Sigmoid, Dropout, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, GlobalAvgPool2d,
  Flatten, Identity
- loss: CrossEntropyLoss, NLLLoss, MSELoss
- container: Sequential
- parallel: DataParallel (one device: it calls the module it wraps)
- init: kaiming_normal_, kaiming_uniform_, hardt_ma_normal_, zeros_, ones_, constant_, ...
- shortcuts: conv3x3, option A and B shortcuts
- blocks: PlainBlock, ResidualBlock (v1, v2 and the activation placements between, Table 2 of
  "Identity Mappings in Deep Residual Networks"), HighwayBlock, VANBlock
- block_variants: ScaledResidualBlock (the shortcuts of that paper's Table 1), SimplifiedBlock
- dense_blocks: the fully connected plain, residual, highway and VAN blocks
- kernels: the one place that chooses, by a module's ``fast`` attribute, between the
  reference ops of minires.functional and the kernels of minires.fast

Every block is built from layers and minires.functional calls only (its ReLUs through
kernels.relu, which is F.relu or the fast kernel that equals it).
"""

from minires.nn import init
from minires.nn.block_variants import ScaledResidualBlock, SimplifiedBlock
from minires.nn.blocks import HighwayBlock, PlainBlock, ResidualBlock, ResidualBranch, VANBlock
from minires.nn.container import Sequential
from minires.nn.dense_blocks import DenseHighwayBlock, DensePlainBlock, DenseResidualBlock, DenseVANBlock
from minires.nn.layers import BatchNorm1d, BatchNorm2d, Conv2d, Linear
from minires.nn.loss import CrossEntropyLoss, MSELoss, NLLLoss
from minires.nn.module import IncompatibleKeys, Module, Parameter
from minires.nn.parallel import DataParallel
from minires.nn.shortcuts import ShortcutA, conv3x3, make_shortcut
from minires.nn.stateless import (AdaptiveAvgPool2d, AvgPool2d, Dropout, Flatten, GlobalAvgPool2d, Identity,
                                  MaxPool2d, ReLU, Sigmoid)

__all__ = [
    "Module", "Parameter", "IncompatibleKeys", "init",
    "Conv2d", "Linear", "BatchNorm1d", "BatchNorm2d",
    "ReLU", "Sigmoid", "Dropout", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "GlobalAvgPool2d",
    "Flatten", "Identity",
    "CrossEntropyLoss", "NLLLoss", "MSELoss",
    "Sequential", "DataParallel",
    "conv3x3", "make_shortcut", "ShortcutA",
    "ResidualBranch", "PlainBlock", "ResidualBlock", "HighwayBlock", "VANBlock",
    "ScaledResidualBlock", "SimplifiedBlock",
    "DensePlainBlock", "DenseResidualBlock", "DenseHighwayBlock", "DenseVANBlock",
]
from minires.nn import utils
