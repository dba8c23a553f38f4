"""SGD: stochastic gradient descent, with momentum, dampening, Nesterov and weight decay.

The update rule, PyTorch's exactly, is in the class docstring (help(SGD) shows it).
"""

from minires import backend
from minires.optim.optimizer import Optimizer, check_number


class SGD(Optimizer):
    """Stochastic gradient descent, as torch.optim.SGD.

    At step t = 1, 2, ..., for each parameter p with a gradient g_t:

        g_t <- g_t + weight_decay * p                      (L2 penalty, when weight_decay > 0)
        b_1  = g_1                                         (momentum buffer, first step)
        b_t  = momentum * b_(t-1) + (1 - dampening) * g_t  (later steps)
        d_t  = g_t + momentum * b_t   if nesterov  else  b_t
        p   <- p - lr * d_t

    With momentum = 0 there is no buffer and d_t = g_t: plain gradient descent. Note the
    first step copies g into the buffer without dampening, as PyTorch does.

    Args:
        params: Parameters, or dicts of parameter groups (see Optimizer).
        lr: the learning rate (required: there is no good default).
        momentum: the factor of the momentum buffer, in [0, 1) in practice; 0 for none.
        dampening: scales the new gradient's share of the buffer by (1 - dampening).
        weight_decay: L2 penalty coefficient, added to the gradient.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening = 0).

    State, per parameter: "momentum_buffer" (an array shaped like the parameter),
    once a step with momentum has run.
    """

    state_names = ("momentum_buffer",)

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov}
        super().__init__(params, defaults)

    def check_hyperparameters(self, group):
        for name in ("lr", "momentum", "weight_decay"):
            check_number("SGD", name, group[name])
        check_number("SGD", "dampening", group["dampening"], minimum=float("-inf"))
        if not isinstance(group["nesterov"], bool):
            raise ValueError(f"SGD: nesterov must be True or False; got {group['nesterov']!r}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: Nesterov momentum needs momentum > 0 and dampening = 0; got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def step(self):
        """One update of every parameter that has a gradient (others are skipped)."""
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            for parameter in group["params"]:
                if parameter.grad is None:
                    continue
                xp = backend.get_array_module(parameter.array, parameter.grad.array)
                direction = parameter.grad.array                         # g_t
                if weight_decay != 0:
                    direction = direction + weight_decay * parameter.array
                if momentum != 0:
                    state = self.state.setdefault(parameter, {})
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = xp.array(direction, copy=True)   # b_1 = g_1
                    else:
                        buffer = state["momentum_buffer"]
                        buffer *= momentum                                          # b_t, in place
                        buffer += (1.0 - dampening) * direction
                    buffer = state["momentum_buffer"]
                    direction = direction + momentum * buffer if nesterov else buffer
                parameter.array -= lr * direction                                    # in place
