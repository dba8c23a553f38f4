"""Adam and AdamW: gradient descent with per-value step sizes from running moment estimates.

Adam (Kingma and Ba, "Adam: A Method for Stochastic Optimization", 2015), as in
torch.optim.Adam; for each parameter p, with gradient g_t at its step t = 1, 2, ...:

    g_t <- g_t + weight_decay * p                      (Adam's L2 penalty, if weight_decay > 0)
    m_t  = beta1 * m_(t-1) + (1 - beta1) * g_t         (first moment, m_0 = 0)
    v_t  = beta2 * v_(t-1) + (1 - beta2) * g_t^2       (second moment, v_0 = 0)
    p   <- p - lr / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)

The divisions by 1 - beta^t are the bias corrections: m and v start at 0, so early
averages are too small by exactly that factor.

AdamW (Loshchilov and Hutter, "Decoupled Weight Decay Regularization", 2019), as in
torch.optim.AdamW, leaves the gradient alone and shrinks the weights directly first:

    p <- p * (1 - lr * weight_decay),   then the Adam update above without the L2 term.

With Adam the decay is divided by sqrt(v) like the gradient, so weights with large
gradients are hardly decayed; AdamW decays every weight at the same rate.
"""

import math

from minires import backend
from minires.optim.optimizer import Optimizer, check_number


class Adam(Optimizer):
    """Adam, as torch.optim.Adam. At step t = 1, 2, ... of a parameter p with gradient g_t:

        g_t <- g_t + weight_decay * p                  (if weight_decay > 0)
        m_t  = beta1 * m_(t-1) + (1 - beta1) * g_t,    v_t = beta2 * v_(t-1) + (1 - beta2) * g_t^2
        p   <- p - lr / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)

    (m_0 = v_0 = 0; the module docstring explains the bias corrections 1 - beta^t.)

    Args:
        params: Parameters, or dicts of parameter groups (see Optimizer).
        lr: the learning rate.
        betas: (beta1, beta2), the decay rates of the first and second moment estimates.
        eps: added to the denominator, so that values with tiny gradients do not explode.
        weight_decay: L2 penalty coefficient, added to the gradient.

    State, per parameter: "step" (int, the number of updates it has had), "exp_avg" (m)
    and "exp_avg_sq" (v), arrays shaped like the parameter.
    """

    decoupled_weight_decay = False      # AdamW sets True
    state_names = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    def check_hyperparameters(self, group):
        name = self._name()
        for key in ("lr", "eps", "weight_decay"):
            check_number(name, key, group[key])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2); got {betas!r}")
        check_number(name, "beta1 (betas[0])", betas[0], below=1.0)
        check_number(name, "beta2 (betas[1])", betas[1], below=1.0)

    def step(self):
        """One update of every parameter that has a gradient (others are skipped)."""
        for group in self.param_groups:
            lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            for parameter in group["params"]:
                if parameter.grad is None:
                    continue
                xp = backend.get_array_module(parameter.array, parameter.grad.array)
                state = self.state.setdefault(parameter, {})
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = xp.zeros_like(parameter.array)      # m_0
                    state["exp_avg_sq"] = xp.zeros_like(parameter.array)   # v_0
                state["step"] += 1
                step = state["step"]                                       # t, a Python int
                grad = parameter.grad.array
                if weight_decay != 0:
                    if self.decoupled_weight_decay:
                        parameter.array *= 1.0 - lr * weight_decay          # AdamW
                    else:
                        grad = grad + weight_decay * parameter.array        # Adam: L2 in the gradient
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg *= beta1                                           # m_t, in place
                exp_avg += (1.0 - beta1) * grad
                exp_avg_sq *= beta2                                        # v_t, in place
                exp_avg_sq += (1.0 - beta2) * grad * grad
                # The bias corrections are Python floats: computing them needs no sync.
                step_size = lr / (1.0 - beta1 ** step)
                denominator = xp.sqrt(exp_avg_sq) / math.sqrt(1.0 - beta2 ** step) + eps
                parameter.array -= step_size * exp_avg / denominator


class AdamW(Adam):
    """Adam with decoupled weight decay, as torch.optim.AdamW. At each step:

        p <- p * (1 - lr * weight_decay),   then Adam's update with weight_decay = 0.

    The arguments and state are Adam's; weight_decay defaults to 1e-2.
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
