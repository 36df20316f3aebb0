"""VAE training: vibook.vae.fit against the same MLP VAE written in PyTorch (CPU).

Both train the chapter 8 model on the binarised digits: encoder 64-128-16
(tanh hidden layer; 8 means and 8 softplus scales), decoder 8-128-64 (tanh,
Bernoulli logits), analytic KL, one reparameterised sample per image, Adam
with learning rate 1e-3, minibatches of 64 reshuffled every epoch, the same
number of epochs, and weights initialised N(0, 1/fan_in) with zero biases.
Results are compared at the end by the test ELBO (nats per image, averaged
over 50 samples per image). Time per epoch is steady state: vibook's is
measured after a warm-up call (JIT compilation excluded), PyTorch's over the
whole run (it has no compilation step).
"""

import time

import jax
import numpy as np
import optax
import torch

from vibook import data, vae

NUM_EPOCHS, BATCH_SIZE, LATENT, HIDDEN = 100, 64, 8, 128


def _vibook(x_train, x_test):
    params0 = vae.init(jax.random.key(1), 64, LATENT, (HIDDEN,))
    opt = optax.adam(1e-3)
    jax.block_until_ready(vae.fit(jax.random.key(2), params0, x_train, NUM_EPOCHS, BATCH_SIZE, opt))
    start = time.perf_counter()
    params, _ = jax.block_until_ready(
        vae.fit(jax.random.key(2), params0, x_train, NUM_EPOCHS, BATCH_SIZE, opt))
    seconds = time.perf_counter() - start
    keys = jax.random.split(jax.random.key(3), 50)
    elbo = float(np.mean([vae.elbo(k, params, x_test).mean() for k in keys]))
    return seconds / NUM_EPOCHS, elbo


class _TorchVAE(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), torch.nn.Tanh(),
                                       torch.nn.Linear(HIDDEN, 2 * LATENT))
        self.dec = torch.nn.Sequential(torch.nn.Linear(LATENT, HIDDEN), torch.nn.Tanh(),
                                       torch.nn.Linear(HIDDEN, 64))
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


def _torch(x_train, x_test):
    torch.manual_seed(0)
    model = _TorchVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_train, x_test = torch.tensor(np.asarray(x_train)), torch.tensor(np.asarray(x_test))
    n = x_train.shape[0]
    start = time.perf_counter()
    for _ in range(NUM_EPOCHS):
        order = torch.randperm(n)
        for i in range(n // BATCH_SIZE):
            batch = x_train[order[i * BATCH_SIZE:(i + 1) * BATCH_SIZE]]
            loss = -model.elbo(batch).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        elbo = float(np.mean([model.elbo(x_test).mean().item() for _ in range(50)]))
    return seconds / NUM_EPOCHS, elbo


def run():
    digits = data.digits(jax.random.key(0))
    vibook_s, vibook_elbo = _vibook(digits.x_train, digits.x_test)
    torch_s, torch_elbo = _torch(digits.x_train, digits.x_test)
    return [dict(task=f"VAE epoch, digits 1438x64, 64-128-8, batch {BATCH_SIZE}, "
                      f"{NUM_EPOCHS} epochs (per-epoch time)",
                 vibook_s=vibook_s, peer=f"PyTorch {torch.__version__} CPU", peer_s=torch_s,
                 ratio=vibook_s / torch_s,
                 agreement=f"test ELBO {vibook_elbo:.2f} (vibook) vs {torch_elbo:.2f} (PyTorch) "
                           f"nats/image, |diff| = {abs(vibook_elbo - torch_elbo):.2f}")]


if __name__ == "__main__":
    for row in run():
        print(row)
