"""VAE training throughput: vibook.vae.fit against the same MLP VAE in PyTorch on the CPU.

Both train chapter 8's model on the binarised digits: encoder 64-128-16 (tanh
hidden layer; 8 means and 8 softplus scales), decoder 8-128-64 (tanh,
Bernoulli logits), analytic KL, one reparameterised sample per image, Adam with
step 1e-3, minibatches of 64 reshuffled every epoch, ``EPOCHS`` epochs, weights
N(0, 1/fan_in) and zero biases. Each timed call trains from scratch. Results
are equal when the test ELBOs (nats per image, 50 samples per image) agree to
``TOLERANCE``.

Two rows: PyTorch eager, and PyTorch with the loss ``torch.compile``d (default
mode; its cold time includes the compilation), each in its own process.
"""

import os
import tempfile
from functools import partial

import jax
import numpy as np
import optax
import torch

from _harness import compare, record
from vibook import data, vae

EPOCHS, BATCH, LATENT, HIDDEN, TOLERANCE = 50, 64, 8, 128, 0.5


class _TorchVAE(torch.nn.Module):
    def __init__(self, data_dim):
        super().__init__()
        self.enc = torch.nn.Sequential(torch.nn.Linear(data_dim, HIDDEN), torch.nn.Tanh(),
                                       torch.nn.Linear(HIDDEN, 2 * LATENT))
        self.dec = torch.nn.Sequential(torch.nn.Linear(LATENT, HIDDEN), torch.nn.Tanh(),
                                       torch.nn.Linear(HIDDEN, data_dim))
        for layer in (*self.enc, *self.dec):
            if isinstance(layer, torch.nn.Linear):
                torch.nn.init.normal_(layer.weight, std=layer.in_features ** -0.5)
                torch.nn.init.zeros_(layer.bias)

    def elbo(self, x):
        mean, raw = self.enc(x).chunk(2, dim=-1)
        scale = torch.nn.functional.softplus(raw) + 1e-6
        z = mean + scale * torch.randn_like(mean)
        logits = self.dec(z)
        rec = (x * logits - torch.nn.functional.softplus(logits)).sum(-1)
        kl = (0.5 * (mean**2 + scale**2 - 1) - torch.log(scale)).sum(-1)
        return rec - kl


def _loss(model, x):
    return -model.elbo(x).mean()


# torch.compile, default mode, of the loss: Dynamo captures the forward pass and AOTAutograd
# compiles its backward, both through Inductor's C++ kernels. Adam's update runs eagerly, as
# in the eager row: compiling the whole step too (zero_grad, backward, opt.step) breaks the
# graph at zero_grad and at backward, and measured about 10x slower than eager here
# (3 epochs, one thread, on a loaded machine).
# Compiled once per process: every new model (each fit) reuses it without recompiling.
_compiled_loss = torch.compile(_loss)


def _torch_fit(x_train, loss_fn=_loss):
    torch.manual_seed(0)
    model = _TorchVAE(x_train.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = x_train.shape[0]
    for _ in range(EPOCHS):
        order = torch.randperm(n)
        for i in range(n // BATCH):
            loss = loss_fn(model, x_train[order[i * BATCH:(i + 1) * BATCH]])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


def _inductor_cache():
    """Point torch.compile's on-disk caches (Inductor, FX graphs, AOTAutograd) at a folder of
    this run: inside run.py's compilation-cache folder (empty in its first run of the case,
    filled in its second, as JAX's is), else a new temporary one. Returns whether it was empty."""
    base = os.environ.get("VIBOOK_CACHE_DIR") or tempfile.mkdtemp()
    path = os.path.join(base, "torchinductor")
    os.makedirs(path, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = path
    return not os.listdir(path)


def case(compiled=False):
    cache_empty = _inductor_cache() if compiled else None
    digits = data.digits(jax.random.key(0))
    params0 = vae.init(jax.random.key(1), digits.x_train.shape[1], LATENT, (HIDDEN,))
    optimizer = optax.adam(1e-3)
    x_torch, x_test_torch = (torch.tensor(np.asarray(a)) for a in (digits.x_train, digits.x_test))
    times, ((params, _), model) = compare(
        lambda: jax.block_until_ready(
            vae.fit(jax.random.key(2), params0, digits.x_train, EPOCHS, BATCH, optimizer)),
        lambda: _torch_fit(x_torch, _compiled_loss if compiled else _loss),
        peer_cache=compiled)                     # torch.compile keeps an on-disk cache
    keys = jax.random.split(jax.random.key(3), 50)
    ours = float(np.mean([vae.elbo(k, params, digits.x_test).mean() for k in keys]))
    with torch.no_grad():
        theirs = float(np.mean([model.elbo(x_test_torch).mean().item() for _ in range(50)]))
    n = digits.x_train.shape[0]
    images = EPOCHS * (n // BATCH) * BATCH
    how = ", torch.compile (default mode) of the loss, forward and backward" if compiled else ""
    extra = dict(peer_cold_includes="torch.compile's compilation (Dynamo, AOTAutograd, "
                                    "Inductor's C++ kernels) in the first fit",
                 peer_compile_cache="empty" if cache_empty else "warm") if compiled else {}
    return [record("VAE training, binarised digits, 64-128-8 MLPs"
                   + (", PyTorch compiled" if compiled else ""), "vae",
                   dict(N=n, D=int(digits.x_train.shape[1]), epochs=EPOCHS, batch=BATCH,
                        latent=LATENT, hidden=HIDDEN),
                   f"PyTorch {torch.__version__} (CPU, {torch.get_num_threads()} threads{how})",
                   times, abs(ours - theirs), TOLERANCE, "|Δ test ELBO| (nats per image)"
                   + ("; peer_cold_s includes torch.compile's compilation" if compiled else ""),
                   **extra,
                   test_elbo=dict(vibook=ours, peer=theirs),
                   vibook_images_per_s=images / times["vibook_s"],
                   peer_images_per_s=images / times["peer_s"])]


CASES = {"vae_training": case, "vae_training_compiled": partial(case, compiled=True)}
