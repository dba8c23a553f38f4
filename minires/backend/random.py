"""Random numbers: the generators minires draws from, all seeded by :func:`manual_seed`.

minires never draws from NumPy's or CuPy's global generator (``numpy.random.rand``
and friends): seeding minires, or training with dropout, leaves the user's own
``numpy.random`` calls exactly as they were. It keeps its own generators instead:

- the host generator, a ``numpy.random.Generator``: initialisation
  (:mod:`minires.nn.init`) and the seeds of data loaders draw from it, on the host,
  so that a seed gives the same weights on every device;
- one generator per device, made on first use by that device's
  ``xp.random.default_rng``: ops that draw on the device, such as dropout, use it,
  so that a mask is made where the data lives and never crosses between devices.

``manual_seed(seed)`` seeds the host generator with ``seed`` and the device
generators with a child of ``seed``'s ``SeedSequence``: NumPy's way of deriving
independent streams from one seed, so that dropout masks are not the numbers
initialisation drew.
"""

import numpy

from minires.backend.arrays import scalar_value
from minires.backend.devices import array_module

_seed = None                              # the last manual_seed, or None
_host_generator = numpy.random.default_rng()
_device_generators = {}                   # device name -> its generator, made on first use


def manual_seed(seed: int):
    """Seeds every random number generator minires uses, as torch.manual_seed.

    A model built after ``manual_seed(n)`` has the same weights on every device, and
    a training run repeats exactly on the CPU. NumPy's global generator is untouched.
    """
    global _seed, _host_generator
    seed = scalar_value(seed)                      # numpy.int64(3) as 3
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"manual_seed: the seed must be a non-negative int; got {seed!r}")
    _seed = seed
    _host_generator = numpy.random.default_rng(seed)
    _device_generators.clear()                     # re-made from the new seed on first use


def host_generator():
    """The NumPy Generator on the host that initialisation draws from (see manual_seed)."""
    return _host_generator


def device_generator(device: str):
    """The generator of ``device`` (``xp.random.default_rng``), made on first use.

    Seeded from :func:`manual_seed`'s seed (a child of its SeedSequence); from fresh
    entropy when no seed was set.
    """
    if device not in _device_generators:
        seed = None if _seed is None else numpy.random.SeedSequence(_seed).spawn(1)[0]
        _device_generators[device] = array_module(device).random.default_rng(seed)
    return _device_generators[device]


def random_state() -> dict:
    """The state of minires's generators on the host, as plain data, for checkpoints.

    Holds the host generator's state and the CPU device generator's (dropout on the
    CPU). Other devices' generators are not included (CuPy's cannot be saved): a
    run resumed on CUDA is reproducible from its seed, but its dropout masks after
    the resume differ from an uninterrupted run's.
    """
    return {
        "seed": _seed,
        "host_generator": _host_generator.bit_generator.state,
        "cpu_generator": device_generator("cpu").bit_generator.state,
    }


def set_random_state(state: dict):
    """Restores what :func:`random_state` returned, so that a resumed run draws the
    same numbers an uninterrupted one would have.

    A state from minires before 0.2 (which kept NumPy's global generator instead of a
    CPU generator) restores the host generator; the CPU generator restarts from the seed.
    """
    global _seed, _host_generator
    _seed = state["seed"]
    _host_generator = numpy.random.default_rng()
    _host_generator.bit_generator.state = state["host_generator"]
    _device_generators.clear()
    if "cpu_generator" in state:
        cpu_generator = numpy.random.default_rng()
        cpu_generator.bit_generator.state = state["cpu_generator"]
        _device_generators["cpu"] = cpu_generator


def host_random_normal(shape, seed, dtype="float64"):
    """Standard normal numbers from a NumPy Generator of their own, seeded with ``seed``.

    For draws that must not depend on minires's generators (gradcheck's fixed random
    direction): the same ``seed`` always gives the same numbers.
    """
    return numpy.random.default_rng(seed).standard_normal(shape).astype(dtype)
