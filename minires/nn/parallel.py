"""DataParallel, as torch.nn.DataParallel on one device: a wrapper that calls its module.

PyTorch's DataParallel splits each batch across several GPUs, runs a copy of the
module on each and gathers the outputs. minires uses one GPU, so there is nothing to
split: the wrapper calls the module it holds. It exists so that scripts written for
PyTorch (``model = nn.DataParallel(model)``) run unchanged, with PyTorch's state-dict
names: the module is the attribute ``module``, so every key starts with "module.".
"""

from minires import backend
from minires.nn.module import Module


def _check_device(name, device):
    """Refuses a device other than the one GPU: 0, "cuda", "cuda:0" or minires.device("cuda:0")."""
    if isinstance(device, int) and not isinstance(device, bool):
        if device != 0:
            raise ValueError(f"DataParallel: {name} names GPU {device}; minires uses one GPU, index 0")
        return
    try:
        kind = backend.device_name(device)
    except (TypeError, ValueError) as error:
        raise ValueError(f"DataParallel: {name} {device!r} is not the one GPU minires uses ({error})") from None
    if kind != "cuda":
        raise ValueError(f"DataParallel: {name} must name a GPU (0 or 'cuda:0'); got {device!r}")


class DataParallel(Module):
    """Calls ``module`` on the whole batch, as torch.nn.DataParallel does on one device.

    Args:
        module: the Module to wrap; it stays where it is (move it with .to() or .cuda()).
        device_ids: None, or a list of one GPU (``[0]``); more than one is a ValueError,
            since minires uses one GPU.
        output_device: None or that same GPU.
        dim: the batch dimension PyTorch would split along; accepted, unused.

    Attributes:
        module: the wrapped module. ``state_dict()`` keys are "module." + its keys, as
            in PyTorch; save ``model.module.state_dict()`` for keys without the prefix.

    Shape:
        whatever ``module`` takes -> whatever it returns
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: expected a Module to wrap; got {type(module).__name__}")
        if device_ids is not None:
            device_ids = list(device_ids)
            if len(device_ids) > 1:
                raise ValueError(f"DataParallel: device_ids {device_ids} name {len(device_ids)} devices; "
                                 "minires uses one GPU, so pass device_ids=None or [0]")
            for device in device_ids:
                _check_device("device_ids", device)
        if output_device is not None:
            _check_device("output_device", output_device)
        self.module = module
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim

    def forward(self, *inputs, **options):
        return self.module(*inputs, **options)
