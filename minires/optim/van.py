"""The VAN constrained update: phasing out skip connections with Lagrange multipliers.

From "Avoiding degradation in deep feed-forward networks by phasing out
skip-connections" (Monti, Tootoonian and Cao, 2018); the section and equation numbers
below are the paper's. Its VAN block, equation (4), is x_{l+1} = F(x_l) + (1 - alpha_l) x_l,
with no activation after the sum. minires.nn.VANBlock puts ResNet v1's ReLU after the
sum, y = ReLU(F(x) + (1 - alpha_l) x); minires.nn.DenseVANBlock, the thin nets of
Section 4.1, has none: y = W ReLU(BN(x)) + b + (1 - alpha_l) x. With alpha_l = 0 the
block is a residual block, with alpha_l = 1 a plain one. Training solves (5)

    minimise C(W, alpha)   subject to   alpha_l = 1 for every layer l,

C the loss (the paper's objective, eq. (3)), through the Lagrangian (6),
C + sum_l lambda_l . (alpha_l - 1), going down in alpha and up in lambda at every
training step, by (7) and (8):

    alpha_l  <- clip(alpha_l - eta * (dC/dalpha_l + lambda_l), 0, 1)     (7)  descent
    lambda_l <- lambda_l + eta' * (alpha_l - 1)                          (8)  ascent

alpha_l and lambda_l are vectors, one value per channel (or unit), and the rules act
on each value alone. What the paper's text says about them (Section 3): eta is "the
step-size parameter for SGD"; the clipping to [0, 1] is "not strictly required"; since
alpha <= 1, the lambdas can only decrease, pushing alpha toward 1; eta' is a fraction
of eta, to let the net adjust while the constraint is enforced: eta / 2 on MNIST
(Section 4.1), eta / 10 on CIFAR (Section 4.2). In both experiments alpha starts at 0
(the net starts as a ResNet) and lambda at -1. (7) as printed reads
eta * (dL/dalpha_l + lambda_l) with the paper's L the Lagrangian (6), whose derivative
already holds lambda_l: read literally, lambda_l would count twice. minires takes the
derivative of the loss C, which makes (7) plain gradient descent on the Lagrangian.

VAN (lambda = 0), the paper's ablation (Section 4.1: the constraint not enforced, every
lambda_l = 0): ``VANConstraint(model, lagrange_multipliers=False)`` fixes every lambda_l
at 0 and skips (8), so the alphas are learned freely, clipped to [0, 1]:
alpha_l <- clip(alpha_l - eta * dC/dalpha_l, 0, 1). Nothing then pushes them to 1; the
skips stay as long as the loss prefers them.

How fast the skips go. With lambda = -1 at the start, (7) moves alpha up by about
eta * |lambda| per step, against dC/dalpha. When C is the batch-mean loss (what
minires's training loop and PyTorch's cross-entropy compute), dC/dalpha is small beside
|lambda| = 1, so the alphas reach 1 within about 1/eta steps: 10 steps at the paper's
CIFAR eta = 0.1. The paper (Section 4.2, reading the right panel of Fig. 2, its 26-layer
CIFAR-10 net trained for 165 epochs) finds the skips "fully removed" at about the 120th
iteration; its text does not say whether an iteration is an update or an epoch, nor
whether C is a batch mean or a sum (eq. (3) calls it "some objective function"). Two
settings make either regime runnable:

- ``alpha_lr``: eta for (7) as a number of its own, fixed, whatever the weights' lr
  (None, the default: eta is the weights' lr, schedule included, the paper's coupling).
  eta' is ``multiplier_lr_fraction`` times the alphas' eta in both cases.
- ``alpha_loss="sum"``: dC/dalpha from the batch's summed loss, N times the mean's
  gradient (N the batch size), so the loss holds the alphas back N times harder.
  "mean" (the default) is what the weights see.

Order of the updates: (8) uses the alpha just computed by (7), the sequential reading
of the two rules written one under the other; the paper's text (Section 3) gives the
two rules without saying which alpha (8) reads. With the old alpha, lambda would lag
one step behind; both readings have the same fixed point, alpha = 1.
"""

ALPHA_LOSSES = ("mean", "sum")

from minires import backend
from minires.nn.module import Parameter
from minires.optim.optimizer import check_number
from minires.tensor import Tensor


class VANConstraint:
    """Applies the VAN updates (7) and (8) to every VAN layer of a model.

    It finds every module with an ``alpha`` Parameter and a ``lagrange_multiplier``
    buffer. The alphas must not also be trained by the optimiser, which would move
    them a second time (and weight-decay them): give the optimiser the other
    parameters only. The multipliers are buffers of the model, so model.state_dict()
    already saves them; this object's own state is the fraction.

        van = VANConstraint(model, multiplier_lr_fraction=0.1)
        optimizer = SGD(van.parameters_except_alphas(), lr=0.1, momentum=0.9)
        for x, target in batches:
            model.zero_grad()                           # zeroes the alphas' gradients too
            F.cross_entropy(model(x), target).backward()
            optimizer.step()
            van.step(optimizer.param_groups[0]["lr"])   # the same lr, schedule included

    Args:
        model: a Module with at least one VAN layer.
        multiplier_lr_fraction: eta' / lr, the multipliers' step size as a fraction of
            the lr (1/2 on MNIST and 1/10 on CIFAR in the paper).
        lagrange_multipliers: False for VAN (lambda = 0): the multipliers are set to 0
            (in the model's buffers) and stay there; (7) alone moves the alphas.
        alpha_lr: eta in (7), fixed; None (default) takes the lr given to step().
        alpha_loss: "mean" (default): dC/dalpha as backward left it, from the batch-mean
            loss; "sum": from the summed loss, N times that (step() then needs N).

    Attributes:
        alphas: the alpha Parameter of each VAN layer, in model order.
        lagrange_multipliers: the lagrange_multiplier buffer (a Tensor) of each.
        layer_names: the dotted name of each VAN layer ("blocks.0").
    """

    def __init__(self, model, multiplier_lr_fraction=0.1, lagrange_multipliers=True, alpha_lr=None,
                 alpha_loss="mean"):
        check_number("VANConstraint", "multiplier_lr_fraction", multiplier_lr_fraction)
        if not isinstance(lagrange_multipliers, bool):
            raise TypeError(f"VANConstraint: lagrange_multipliers must be True or False; "
                            f"got {lagrange_multipliers!r}")
        if alpha_lr is not None:
            check_number("VANConstraint", "alpha_lr", alpha_lr)
        if alpha_loss not in ALPHA_LOSSES:
            raise ValueError(f"VANConstraint: alpha_loss must be one of {ALPHA_LOSSES}; got {alpha_loss!r}")
        self.model = model
        self.multiplier_lr_fraction = multiplier_lr_fraction
        self.uses_multipliers = lagrange_multipliers
        self.alpha_lr = alpha_lr
        self.alpha_loss = alpha_loss
        self.layer_names, self.alphas, self.lagrange_multipliers = [], [], []
        for name, module in model.named_modules():
            alpha = getattr(module, "alpha", None)
            multiplier = getattr(module, "lagrange_multiplier", None)
            if not isinstance(alpha, Parameter) or not isinstance(multiplier, Tensor):
                continue
            if isinstance(multiplier, Parameter) or alpha.shape != multiplier.shape:
                raise ValueError(f"VANConstraint: layer {name or type(module).__name__!r} has an alpha of "
                                 f"shape {alpha.shape} and a lagrange_multiplier of shape "
                                 f"{multiplier.shape}; expected a buffer of alpha's shape")
            self.layer_names.append(name)
            self.alphas.append(alpha)
            self.lagrange_multipliers.append(multiplier)
        if not self.alphas:
            raise ValueError(f"VANConstraint: {type(model).__name__} has no VAN layer (a module with an "
                             "'alpha' Parameter and a 'lagrange_multiplier' buffer); build the model "
                             "with the 'van' family")
        if not self.uses_multipliers:
            for multiplier in self.lagrange_multipliers:
                multiplier.array[...] = 0.0                                  # lambda = 0, for good

    def parameters_except_alphas(self) -> list:
        """The model's parameters without the alphas: what the optimiser should train."""
        alpha_ids = {id(alpha) for alpha in self.alphas}
        return [parameter for parameter in self.model.parameters() if id(parameter) not in alpha_ids]

    def zero_grad(self):
        """Forgets the alphas' gradients (model.zero_grad() does it too)."""
        for alpha in self.alphas:
            alpha.grad = None

    def step(self, lr, batch_size=None):
        """Applies (7) then (8) to every VAN layer, in place.

        Args:
            lr: the weights' learning rate now; eta in (7) unless alpha_lr is set.
            batch_size: N, the examples in the batch whose mean loss backward took;
                needed with alpha_loss="sum" (dC/dalpha is then N times the gradient).

        An alpha whose grad is None (no backward reached it) takes dC/dalpha = 0.
        """
        check_number("VANConstraint.step", "lr", lr)
        loss_scale = 1.0
        if self.alpha_loss == "sum":
            if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
                raise ValueError(f"VANConstraint.step: alpha_loss='sum' needs the batch size N "
                                 f"(a positive int, the examples the mean loss averaged); got {batch_size!r}")
            loss_scale = float(batch_size)                                   # d(sum)/dalpha = N d(mean)/dalpha
        alpha_step = lr if self.alpha_lr is None else self.alpha_lr          # eta
        multiplier_lr = self.multiplier_lr_fraction * alpha_step            # eta'
        for alpha, multiplier in zip(self.alphas, self.lagrange_multipliers):
            xp = backend.get_array_module(alpha.array, multiplier.array)
            grad = loss_scale * alpha.grad.array if alpha.grad is not None else 0.0   # dC/dalpha
            descended = alpha.array - alpha_step * (grad + multiplier.array)
            alpha.array[...] = xp.clip(descended, 0.0, 1.0)                   # (7), in place
            if self.uses_multipliers:
                multiplier.array += multiplier_lr * (alpha.array - 1.0)        # (8), new alpha

    def alpha_residual(self) -> float:
        """(1/B) sum_l ||1 - alpha_l||^2 over the B VAN layers: 0 once the net is plain.

        The paper's "mean alpha residual" (Section 4.2 and the captions of Figs. 2 and 3)
        is (1/L) sum_l (1 - alpha_l)^2 over its L layers, without saying how the vector
        (1 - alpha_l)^2 becomes a number; here it is summed over the channels (the
        squared norm), so the value starts at the mean channel count of the VAN layers
        (alpha = 0). Lesson 6 plots the mean over channels instead, which starts at 1.

        For logging once per epoch: it reads the value back from the device (a sync).
        """
        total = 0.0
        for alpha in self.alphas:
            xp = backend.get_array_module(alpha.array)
            total = total + xp.sum((1.0 - alpha.array) ** 2)                 # stays on the device
        return float(backend.to_numpy(backend.ensure_array(total))) / len(self.alphas)

    def state_dict(self) -> dict:
        """{"multiplier_lr_fraction": float, "lagrange_multipliers": bool, "alpha_lr": float
        or None, "alpha_loss": str}. The multipliers themselves are in model.state_dict()."""
        return {"multiplier_lr_fraction": self.multiplier_lr_fraction,
                "lagrange_multipliers": self.uses_multipliers,
                "alpha_lr": self.alpha_lr, "alpha_loss": self.alpha_loss}

    def load_state_dict(self, state_dict):
        """Restores what state_dict() returned (a ValueError names a missing or bad entry)."""
        if not isinstance(state_dict, dict):
            raise ValueError(f"VANConstraint.load_state_dict: the state dict is {type(state_dict).__name__} "
                             f"{state_dict!r:.40}; expected the dict that state_dict() returns")
        if "multiplier_lr_fraction" not in state_dict:
            raise ValueError("VANConstraint.load_state_dict: the state dict has no 'multiplier_lr_fraction' "
                             f"entry (it has {sorted(map(str, state_dict))})")
        fraction = backend.scalar_value(state_dict["multiplier_lr_fraction"])
        check_number("VANConstraint", "multiplier_lr_fraction", fraction)
        uses_multipliers = backend.scalar_value(state_dict.get("lagrange_multipliers", True))  # older runs: True
        if not isinstance(uses_multipliers, bool) or uses_multipliers != self.uses_multipliers:
            raise ValueError(f"VANConstraint.load_state_dict: the state dict has lagrange_multipliers="
                             f"{uses_multipliers!r}, this constraint {self.uses_multipliers}; build it with "
                             f"the run's setting")
        # Older runs have neither entry: they ran with the paper's coupling and the mean loss.
        for name, default in (("alpha_lr", None), ("alpha_loss", "mean")):
            saved = state_dict.get(name, default)
            saved = None if saved is None else backend.scalar_value(saved)
            if saved != getattr(self, name):
                raise ValueError(f"VANConstraint.load_state_dict: the state dict has {name}={saved!r}, "
                                 f"this constraint {getattr(self, name)!r}; build it with the run's setting")
        self.multiplier_lr_fraction = fraction
