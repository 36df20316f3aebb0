"""VAE training throughput: vibook.vae.fit against the same MLP VAE in PyTorch on the CPU.

Both train chapter 8's model on the binarised digits: encoder 64-128-16 (tanh
hidden layer; 8 means and 8 softplus scales), decoder 8-128-64 (tanh,
Bernoulli logits), analytic KL, one reparameterised sample per image, Adam with
step 1e-3, minibatches of 64 reshuffled every epoch, ``EPOCHS`` epochs, weights
N(0, 1/fan_in) and zero biases. Each timed call trains from scratch. Results
are equal when the test ELBOs (nats per image, 50 samples per image) agree to
``TOLERANCE``.
"""

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


def _torch_fit(x_train):
    torch.manual_seed(0)
    model = _TorchVAE(x_train.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = x_train.shape[0]
    for _ in range(EPOCHS):
        order = torch.randperm(n)
        for i in range(n // BATCH):
            loss = -model.elbo(x_train[order[i * BATCH:(i + 1) * BATCH]]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


def case():
    digits = data.digits(jax.random.key(0))
    params0 = vae.init(jax.random.key(1), digits.x_train.shape[1], LATENT, (HIDDEN,))
    optimizer = optax.adam(1e-3)
    x_torch, x_test_torch = (torch.tensor(np.asarray(a)) for a in (digits.x_train, digits.x_test))
    times, ((params, _), model) = compare(
        lambda: jax.block_until_ready(
            vae.fit(jax.random.key(2), params0, digits.x_train, EPOCHS, BATCH, optimizer)),
        lambda: _torch_fit(x_torch))
    keys = jax.random.split(jax.random.key(3), 50)
    ours = float(np.mean([vae.elbo(k, params, digits.x_test).mean() for k in keys]))
    with torch.no_grad():
        theirs = float(np.mean([model.elbo(x_test_torch).mean().item() for _ in range(50)]))
    n = digits.x_train.shape[0]
    images = EPOCHS * (n // BATCH) * BATCH
    return [record("VAE training, binarised digits, 64-128-8 MLPs", "vae",
                   dict(N=n, D=int(digits.x_train.shape[1]), epochs=EPOCHS, batch=BATCH,
                        latent=LATENT, hidden=HIDDEN),
                   f"PyTorch {torch.__version__} (CPU, {torch.get_num_threads()} threads)",
                   times, abs(ours - theirs), TOLERANCE, "|Δ test ELBO| (nats per image)",
                   test_elbo=dict(vibook=ours, peer=theirs),
                   vibook_images_per_s=images / times["vibook_s"],
                   peer_images_per_s=images / times["peer_s"])]


CASES = {"vae_training": case}
