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


def test_bench_loader_times_both_loaders_and_the_training_loop():
    printed = run("bench_loader.py", "--batch-size", "1000", "--workers", "0", "1", "--repeats", "1", "--train-step")
    assert "5000 images, batch 1000" in printed
    lines = printed.splitlines()
    assert [line.split()[0] for line in lines[2:4]] == ["0", "1"], printed          # minires and PyTorch rows
    assert "with a training step of the small net per batch" in printed



def test_bench_tracking_times_training_with_and_without_the_tracker():
    printed = run("bench_tracking.py", "--depth", "8", "--steps", "4", "--every", "2", "--repeats", "1",
                  "--batch-size", "8")
    assert "ResNet-8, batch 8, 4 steps, --track grad-norms --track-every 2 (2 records), 1 repeats" in printed
    assert "overhead" in printed
