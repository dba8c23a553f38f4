"""What minires leaves alone in the user's process: BLAS's threads, NumPy's global random
state, and the modules it imports; and that its own random numbers follow its seed.

The import and training tests run in fresh interpreters (sys.executable), where nothing
has been imported or tuned before: numpy and threadpoolctl first, a snapshot, then minires.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from helpers import on_device

SNAPSHOT = """
import json, sys
import numpy, threadpoolctl
numpy.random.seed(1234)                  # the user's own global generator, in a known state

def blas_threads():
    return [library["num_threads"] for library in threadpoolctl.threadpool_info() if library["user_api"] == "blas"]

def random_state():
    name, keys, position, has_gauss, cached_gaussian = numpy.random.get_state()
    return [name, keys.tolist(), position, has_gauss, cached_gaussian]

before = {"blas_threads": blas_threads(), "random_state": random_state()}
"""

IMPORT_ONLY = SNAPSHOT + """
import minires
after = {"blas_threads": blas_threads(), "random_state": random_state()}
heavy = [name for name in ("matplotlib", "PIL", "tqdm") if name in sys.modules]
print(json.dumps({"before": before, "after": after, "heavy_modules": heavy}))
"""

TRAINING = SNAPSHOT + """
import minires as mr
import minires.functional as F
from minires import data, models, nn, optim, train
from minires.fast import conv_taps, norm_rows, relu_split, threads

# split every array, however small, over 2 threads; count the parts the kernels run
threads.MIN_VALUES_PER_PART = threads.ELEMENTWISE_MIN_VALUES_PER_PART = 1
mr.set_num_threads(2)
parts, inside = [], []
def counting_run_parts(work_on_part, these_parts):
    parts.append(len(these_parts))
    def recording(part):                                # BLAS's threads while a part runs
        inside.append(blas_threads())
        return work_on_part(part)
    return threads.run_parts(recording, these_parts)
for module in (conv_taps, norm_rows, relu_split):
    module.run_parts = counting_run_parts

mr.manual_seed(0)
images = numpy.random.default_rng(0).integers(0, 256, size=(16, 8, 8, 3), dtype=numpy.uint8)
dataset = data.ArrayDataset(images, numpy.arange(16) % 10, [str(label) for label in range(10)])
loader = data.DataLoader(dataset, batch_size=8, shuffle=True, seed=0)
tiny = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5),
                     nn.GlobalAvgPool2d(), nn.Linear(4, 10))
for model in (tiny, models.cifar_net("scaled_residual", 8, width=4, variant="dropout")):
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    train.train_one_epoch(model, loader, optimizer, progress=False)
    train.evaluate(model, loader)
    model.train()
    for images, labels in loader:                       # a loop of the user's own
        loss = F.cross_entropy(model(images), labels)
        model.zero_grad()
        loss.backward()
        optimizer.step()
after = {"blas_threads": blas_threads(), "random_state": random_state()}
numpy.matmul(numpy.ones((256, 256)), numpy.ones((256, 256)))   # the user's own product, after
print(json.dumps({"before": before, "after": after, "after_matmul": blas_threads(),
                  "parts": parts, "blas_inside": inside}))
"""


def run_fresh(script):
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def after_import():
    return run_fresh(IMPORT_ONLY)


@pytest.fixture(scope="module")
def after_training():
    return run_fresh(TRAINING)


def test_import_leaves_blas_threads_and_numpy_random_state(after_import):
    assert after_import["before"]["blas_threads"], "no BLAS library found: the test shows nothing"
    assert after_import["after"]["blas_threads"] == after_import["before"]["blas_threads"]
    assert after_import["after"]["random_state"] == after_import["before"]["random_state"]


def test_import_does_not_load_plotting_images_or_progress_bars(after_import):
    """matplotlib, PIL and tqdm are loaded when a feature needs them, not by ``import minires``."""
    assert after_import["heavy_modules"] == []


def test_training_leaves_blas_threads_and_numpy_random_state(after_training):
    before, after = after_training["before"], after_training["after"]
    if set(before["blas_threads"]) <= {1}:
        pytest.skip(f"BLAS runs one thread here ({before['blas_threads']}): a limit to 1 would not show")
    # the kernels really split, and BLAS ran one thread while they did: there was something to undo
    assert max(after_training["parts"]) >= 2, after_training["parts"]
    assert all(set(threads) == {1} for threads in after_training["blas_inside"]), after_training["blas_inside"]
    assert after["blas_threads"] == before["blas_threads"]
    assert after_training["after_matmul"] == before["blas_threads"]
    assert after["random_state"] == before["random_state"]


# --- minires's own random numbers ---------------------------------------------------------

def dropout_mask(device, seed):
    """The mask of a dropout of ones drawn right after manual_seed(seed), on the host."""
    mr.manual_seed(seed)
    return F.dropout(on_device(np.ones((64, 32)), device, requires_grad=False), 0.5).numpy() != 0


@pytest.mark.parametrize("device", ["cpu", "strict"])
def test_manual_seed_fixes_the_dropout_mask(device):
    state = np.random.get_state()
    first, again, other = dropout_mask(device, 0), dropout_mask(device, 0), dropout_mask(device, 1)
    assert 0 < first.sum() < first.size                          # a real mask: some kept, some dropped
    np.testing.assert_array_equal(again, first)
    assert (other != first).any(), "seeds 0 and 1 gave the same mask"
    mr.manual_seed(0)
    x = on_device(np.ones((64, 32)), device, requires_grad=False)
    assert (F.dropout(x, 0.5).numpy() != F.dropout(x, 0.5).numpy()).any(), "two draws in a row repeat"
    after = np.random.get_state()
    assert after[0] == state[0] and np.array_equal(after[1], state[1]) and after[2:] == state[2:], \
        "seeding minires or drawing a dropout mask moved NumPy's global generator"
