"""The benchmark scripts run (on tiny settings) and print what they promise; no timings are judged."""

import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("torch", reason="the benchmarks compare with PyTorch")

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"


def run(script, *arguments):
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), *arguments],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_bench_train_step_times_both_frameworks_on_the_same_net():
    printed = run("bench_train_step.py", "--depths", "8", "--batch-sizes", "4", "--warmup", "0", "--repeats", "1",
                  "--with-reference")
    assert printed.startswith("device cpu;")
    for what in ("train step", "eval forward", "peak memory", "train step (ref)", "eval forward (ref)"):
        assert f"ResNet-8       4 {what}" in printed, printed     # parameter counts agreed, or it exits


def test_bench_ops_covers_every_resnet_op():
    printed = run("bench_ops.py", "--batch-size", "2", "--warmup", "0", "--repeats", "1")
    for op in ("conv2d 16->16 32x32 s1", "conv2d 16->32 32x32 s2", "conv2d (reference) 16->16", "batch_norm",
               "batch_norm (reference)", "relu", "relu (reference)", "max_pool2d",
               "avg_pool2d", "global_avg_pool2d", "cross_entropy"):
        assert printed.count(op) >= 2, op                                  # a forward and a backward row


def test_profile_step_attributes_the_step_to_ops():
    printed = run("profile_step.py", "--depth", "8", "--batch-size", "4", "--steps", "1")
    assert "Conv2dTaps" in printed and "BatchNormRows" in printed and "optimizer step" in printed
    printed = run("profile_step.py", "--depth", "8", "--batch-size", "4", "--steps", "1", "--reference-kernels")
    assert "Conv2dIm2col" in printed and "ReLUMask" in printed and "the reference ops" in printed
