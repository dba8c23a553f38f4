"""minires.fast.host_memory: freed NumPy arrays reused without page faults (glibc only),
in the processes minires owns only (the minires train command), never because minires
was imported or trained a net in a process of the user's.

The page-fault tests run in fresh interpreters: mallopt changes a whole process for
good, and the test process must stay as it was.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from minires.fast import host_memory

UNSUPPORTED = 77          # the exit code of the script below where glibc's mallopt is missing

# Allocates 40 arrays of 4 MiB and frees them, three times; prints the page faults of the
# last two rounds. glibc by default gives the freed 160 MiB back to the system every round.
ROUNDS = textwrap.dedent(f"""
    import resource, sys
    import numpy
    mode = sys.argv[1]
    if not mode.startswith("numpy_only"):
        import minires
        from minires.fast import host_memory

    def round_of_arrays():
        arrays = [numpy.ones(2**20, dtype=numpy.float32) for _ in range(40)]
        del arrays

    def faults_of_two_rounds():
        round_of_arrays()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        round_of_arrays()
        round_of_arrays()
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    def one_array_at_a_time():
        # NumPy's pattern when a loop makes and drops one large array: glibc raises its
        # thresholds by itself after the first free, unless a program ever set them
        numpy.ones(2**20, dtype=numpy.float32)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(50):
            array = numpy.ones(2**20, dtype=numpy.float32)
            del array
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    def train_a_little():
        from minires import data, models, optim
        from minires.train import evaluate, train_one_epoch
        minires.manual_seed(0)
        rng = numpy.random.default_rng(0)
        dataset = data.ArrayDataset(rng.integers(0, 256, (16, 32, 32, 3), dtype=numpy.uint8),
                                    rng.integers(0, 10, 16), classes=[str(k) for k in range(10)])
        loader = data.DataLoader(dataset, batch_size=8, shuffle=True, seed=0)
        model = models.cifar_net("residual", 8, width=4)
        train_one_epoch(model, loader, optim.SGD(model.parameters(), lr=0.1), progress=False)
        evaluate(model, loader)

    if mode == "keep" and not host_memory.keep_freed_memory():
        sys.exit({UNSUPPORTED})
    if mode.startswith("after_training"):
        train_a_little()
    if mode.endswith("one_array"):
        print(one_array_at_a_time())
    else:
        print(faults_of_two_rounds())
""")
PAGES = 2 * 40 * 4 * 2**20 // 4096            # what two rounds touch, were every page fresh
# Measured on glibc 2.36: plain NumPy faults on about PAGES / 2 of them,
# freed memory kept on none: "many" is above PAGES / 4,
# "few" below PAGES / 20.


def page_faults(mode):
    environment = {name: value for name, value in os.environ.items() if name not in host_memory.USER_SETTINGS}
    result = subprocess.run([sys.executable, "-c", ROUNDS, mode], capture_output=True, text=True,
                            env=environment, timeout=120)
    if result.returncode == UNSUPPORTED:
        pytest.skip("the C library here has no mallopt (not glibc)")
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


@pytest.fixture(scope="module")
def numpy_only_faults():
    """The page faults of the rounds in plain NumPy: many, or the other tests show nothing."""
    faults = page_faults("numpy_only")
    assert faults > PAGES // 4, f"the default allocator faulted only {faults} times; the tests show nothing"
    return faults


def test_freed_memory_is_reused_without_page_faults(numpy_only_faults):
    kept = page_faults("keep")
    assert kept < PAGES // 20, f"{kept} page faults with freed memory kept (default: {numpy_only_faults})"


def test_importing_minires_leaves_the_allocator_alone(numpy_only_faults):
    imported = page_faults("import")
    assert imported > PAGES // 4, (
        f"only {imported} page faults after import minires (plain NumPy: {numpy_only_faults}): "
        "the import changed the allocator")


def test_training_a_net_leaves_the_allocator_alone(numpy_only_faults):
    """minires.train in the user's process: the rounds fault as in plain NumPy, and a loop
    of one array at a time as little as in plain NumPy (glibc's own threshold adjustment,
    which any mallopt call turns off for good, still works)."""
    after = page_faults("after_training")
    assert after > PAGES // 4, f"only {after} page faults after training: the allocator was changed"
    plain, trained = page_faults("numpy_only_one_array"), page_faults("after_training_one_array")
    pages_of_one_array = 2**20 * 4 // 4096
    assert trained < plain + 5 * pages_of_one_array, (
        f"{trained} page faults for 50 arrays after training, {plain} in plain NumPy: "
        "glibc's adjustment of its thresholds was turned off")


def test_the_minires_train_command_keeps_freed_memory_in_its_own_process(tmp_path, monkeypatch):
    import minires.fast
    from minires.cli import main
    called = []
    monkeypatch.setattr(minires.fast, "keep_freed_memory", lambda: called.append(1) or True)
    assert main(["train", "--train-subset", "16", "--test-subset", "8", "--epochs", "1", "--depth", "8",
                 "--width", "4", "--batch-size", "8", "--device", "cpu", "--out", str(tmp_path / "run"),
                 "--no-progress"]) == 0
    assert called == [1]


# --- Without touching this process's allocator: fake C functions, or none ---------------

@pytest.fixture
def fake_c_library(monkeypatch):
    """Replaces glibc's mallopt by a recorder; returns the list of calls."""
    calls = []

    def mallopt(parameter, value):
        calls.append(("mallopt", parameter, value))
        return 1
    monkeypatch.setattr(host_memory, "_mallopt", lambda: mallopt)
    for name in host_memory.USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return calls


def test_keep_freed_memory_raises_both_thresholds(fake_c_library):
    assert host_memory.keep_freed_memory() is True
    assert fake_c_library == [("mallopt", host_memory.M_TRIM_THRESHOLD, 2**30),
                              ("mallopt", host_memory.M_MMAP_THRESHOLD, 32 * 2**20)]


@pytest.mark.parametrize("setting", host_memory.USER_SETTINGS)
def test_a_user_setting_is_left_alone(setting, fake_c_library, monkeypatch):
    monkeypatch.setenv(setting, "glibc.malloc.trim_threshold=0" if setting == "GLIBC_TUNABLES" else "131072")
    assert host_memory.keep_freed_memory() is False
    assert fake_c_library == [], "mallopt was called although the user set the allocator"


def test_without_mallopt_it_does_nothing(monkeypatch):
    def no_c_library(name):
        raise OSError("no C library here")
    monkeypatch.setattr(host_memory.ctypes, "CDLL", no_c_library)
    for name in host_memory.USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    assert host_memory.keep_freed_memory() is False
