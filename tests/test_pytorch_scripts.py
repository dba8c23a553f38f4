"""Three small scripts written for PyTorch (tests/pytorch_scripts/) run on minires with
only their imports changed (issue 18), and give PyTorch's numbers where torch is here.

- cifar_resnet.py: a CIFAR ResNet module file (view, size, F.pad, Module.apply, init);
- trainer.py: a training loop (CrossEntropyLoss, outputs.max(1), .eq().sum().item(),
  a top-k accuracy helper, StepLR, torch.save / torch.load);
- tutorial.py: PyTorch's CIFAR-10 tutorial (ToTensor, Normalize, DataLoader with two
  workers, torch.flatten, torch.max(outputs, 1), torch.no_grad).
"""

import pathlib
import types

import numpy as np
import pytest

import minires as mr

SCRIPTS = pathlib.Path(__file__).resolve().parent / "pytorch_scripts"
# The only lines that change: each PyTorch import and the minires import that replaces it.
IMPORTS = {
    "import torch": "import minires as torch",
    "import torch.nn as nn": "import minires.nn as nn",
    "import torch.nn.functional as F": "import minires.functional as F",
    "import torch.nn.init as init": "import minires.nn.init as init",
    "import torch.optim as optim": "import minires.optim as optim",
    "import torchvision.transforms as transforms": "import minires.data.transforms as transforms",
}


def load_script(name, framework):
    """The script as a module, for "torch" as written, for "minires" with its imports swapped."""
    lines = (SCRIPTS / f"{name}.py").read_text().splitlines()
    if framework == "minires":
        swapped = [IMPORTS.get(line, line) for line in lines]
        changed = [line for line, new in zip(lines, swapped) if line != new]
        assert all(line.startswith("import ") for line in changed)          # nothing but imports
        assert not any("torch" in line and "minires" not in line for line in swapped if line.startswith("import"))
        lines = swapped
    module = types.ModuleType(f"{name}_{framework}")
    exec(compile("\n".join(lines) + "\n", str(SCRIPTS / f"{name}.py"), "exec"), module.__dict__)
    return module


def torch_weights_into(model, torch_model):
    """Copies a torch model's state dict (as float64 arrays) into a minires model."""
    state = {name: value.detach().numpy() for name, value in torch_model.state_dict().items()}
    model.load_state_dict(state)


@pytest.fixture
def resnets(torch):
    torch.manual_seed(0)
    theirs = load_script("cifar_resnet", "torch").resnet8().double()
    ours = load_script("cifar_resnet", "minires").resnet8().double()
    torch_weights_into(ours, theirs)
    return ours, theirs


def test_the_resnet_module_file_builds_the_same_net(resnets):
    ours, theirs = resnets
    our_script, their_script = load_script("cifar_resnet", "minires"), load_script("cifar_resnet", "torch")
    counted = our_script.count_parameters_and_layers(ours)
    assert counted == their_script.count_parameters_and_layers(theirs) == (75290, 8)
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_the_resnet_gives_torchs_logits_and_gradients(torch, resnets, mode):
    ours, theirs = resnets
    getattr(ours, mode)(), getattr(theirs, mode)()
    images = np.random.default_rng(1).standard_normal((4, 3, 32, 32))
    ours_logits, their_logits = ours(mr.tensor(images)), theirs(torch.tensor(images))
    np.testing.assert_allclose(ours_logits.numpy(), their_logits.detach().numpy(), rtol=1e-9, atol=1e-10)
    ours_logits.sum().backward(), their_logits.sum().backward()
    for (name, mine), reference in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), rtol=1e-8, atol=1e-10,
                                   err_msg=name)


def test_the_training_loop_gives_torchs_history_and_weights(torch, resnets, tmp_path):
    ours, theirs = resnets
    rng = np.random.default_rng(2)
    batches = [(rng.standard_normal((8, 3, 32, 32)), rng.integers(0, 10, 8)) for _ in range(3)]
    their_history = load_script("trainer", "torch").train(
        theirs, [(torch.tensor(x), torch.tensor(y)) for x, y in batches], 2, tmp_path / "torch.pth")
    our_history = load_script("trainer", "minires").train(
        ours, [(mr.tensor(x), mr.tensor(y)) for x, y in batches], 2, tmp_path / "minires.npz")
    for mine, reference in zip(our_history, their_history):
        assert mine["correct"] == reference["correct"] and mine["total"] == reference["total"]
        assert mine["loss"] == pytest.approx(reference["loss"], rel=1e-9)
        assert mine["top1"] == pytest.approx(reference["top1"], rel=1e-12)
        assert mine["lr"] == pytest.approx(reference["lr"], rel=1e-15)
    for (name, mine), reference in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_allclose(mine, reference.numpy(), rtol=1e-7, atol=1e-9, err_msg=name)


def test_the_tutorial_runs_on_random_images(tmp_path):
    rng = np.random.default_rng(3)
    classes = [f"class{index}" for index in range(10)]
    transform = load_script("tutorial", "minires").transform
    trainset = mr.data.ArrayDataset(rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8),
                                    rng.integers(0, 10, 16), classes, transform=transform)
    testset = mr.data.ArrayDataset(rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8),
                                   rng.integers(0, 10, 8), classes, transform=transform)
    mr.manual_seed(0)
    losses, correct, total = load_script("tutorial", "minires").run(trainset, testset, tmp_path / "net.npz", epochs=2)
    assert len(losses) == 2 and all(np.isfinite(losses)) and total == 8 and 0 <= correct <= 8
