r"""Variational autoencoders for binary data (Kingma & Welling 2014; Rezende et al. 2014).

One encoder network maps each data point :math:`x` to the parameters of its
own Gaussian approximation :math:`q_\phi(z \mid x) = \mathcal{N}(\mu_\phi(x),
\operatorname{diag}\sigma_\phi(x)^2)` (*amortised* inference), and one decoder
network maps a latent :math:`z` to Bernoulli logits of :math:`p_\theta(x \mid
z)`, with the prior :math:`p(z) = \mathcal{N}(0, I)`. Both are trained by
maximising the ELBO

.. math::

    \mathcal{L}(x) = \mathbb{E}_{q_\phi(z \mid x)}[\log p_\theta(x \mid z)]
                     - \mathrm{KL}(q_\phi(z \mid x) \,\|\, p(z)),

with the reparameterisation :math:`z = \mu_\phi(x) + \sigma_\phi(x) \odot
\varepsilon`, :math:`\varepsilon \sim \mathcal{N}(0, I)`, and the KL term in
closed form. The networks are plain lists of ``(W, b)`` pairs; the optimiser
is any optax ``GradientTransformation``. :func:`fit` splits each minibatch
over all local devices (see :mod:`vibook.device`).
"""

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from vibook import _checks, _mlp, device
from vibook.data import minibatches


class VAEParams(NamedTuple):
    """The encoder and decoder MLPs, each a list of ``(W, b)`` pairs."""

    encoder: list   # last layer outputs (mean, raw scale): 2 * latent_dim
    decoder: list   # last layer outputs Bernoulli logits: data_dim


class FitTrace(NamedTuple):
    """Mean ELBO (nats per example) after each epoch."""

    train_elbo: jax.Array   # (num_epochs,) mean minibatch ELBO during the epoch
    test_elbo: jax.Array    # (num_epochs,) on x_test at the end of the epoch (NaN if none)


def init(key, data_dim, latent_dim, hidden_dims=(128,)):
    """Initialise encoder ``data_dim -> hidden_dims -> 2 latent_dim`` and the mirrored decoder.

    Parameters
    ----------
    key : PRNG key
    data_dim, latent_dim : int
        Sizes of :math:`x` and :math:`z`.
    hidden_dims : sequence of int
        Widths of the encoder's hidden layers; the decoder uses them reversed.

    Returns
    -------
    VAEParams
    """
    _checks.key(key)
    data_dim = _checks.positive_int(data_dim, "data_dim")
    latent_dim = _checks.positive_int(latent_dim, "latent_dim")
    hidden = [_checks.positive_int(h, "hidden_dims") for h in hidden_dims]
    k_enc, k_dec = jax.random.split(key)
    return VAEParams(encoder=_mlp.init(k_enc, [data_dim, *hidden, 2 * latent_dim]),
                     decoder=_mlp.init(k_dec, [latent_dim, *hidden[::-1], data_dim]))


def dims(params):
    """``(data_dim, latent_dim)`` of a VAE."""
    return params.encoder[0][0].shape[0], params.decoder[0][0].shape[0]


def encode(params, x):
    r"""Encoder: :math:`(\mu_\phi(x), \sigma_\phi(x))`, with
    :math:`\sigma = \mathrm{softplus}(\cdot) + 10^{-6}`.

    ``x`` has shape ``(..., data_dim)``; both outputs have shape ``(..., latent_dim)``.
    """
    out = _mlp.apply(params.encoder, x)
    mean, raw_scale = jnp.split(out, 2, axis=-1)
    return mean, jax.nn.softplus(raw_scale) + 1e-6


def decode(params, z):
    """Decoder: Bernoulli logits of :math:`p_\\theta(x \\mid z)`, shape ``(..., data_dim)``."""
    return _mlp.apply(params.decoder, z)


def bernoulli_log_prob(logits, x):
    r""":math:`\sum_j x_j \ell_j - \mathrm{softplus}(\ell_j)`, the log Bernoulli likelihood
    from logits :math:`\ell`."""
    return jnp.sum(x * logits - jax.nn.softplus(logits), axis=-1)


def gaussian_kl(mean, scale):
    r"""Closed-form :math:`\mathrm{KL}(\mathcal{N}(\mu, \sigma^2) \| \mathcal{N}(0, 1))`
    per coordinate.

    .. math:: \tfrac12(\mu^2 + \sigma^2 - 1) - \log\sigma

    Sum over the last axis for the KL of a diagonal Gaussian (Kingma & Welling
    2014, appendix B).
    """
    return 0.5 * (mean**2 + scale**2 - 1.0) - jnp.log(scale)


def _terms_one(key, params, x):
    """Single-sample reconstruction term and analytic KL for one example."""
    mean, scale = encode(params, x)
    z = mean + scale * jax.random.normal(key, mean.shape)        # reparameterisation
    return bernoulli_log_prob(decode(params, z), x), jnp.sum(gaussian_kl(mean, scale))


def _iwae_one(key, params, x, k):
    """The ``k``-sample importance-weighted bound for one example."""
    mean, scale = encode(params, x)
    eps = jax.random.normal(key, (k, mean.shape[-1]))           # (k, L)
    z = mean[None, :] + scale[None, :] * eps                    # (k, L)
    log_lik = bernoulli_log_prob(decode(params, z), x[None, :])                  # (k,)
    log_prior = jnp.sum(jax.scipy.stats.norm.logpdf(z), axis=-1)                 # (k,)
    log_q = jnp.sum(jax.scipy.stats.norm.logpdf(z, mean[None, :], scale[None, :]), axis=-1)
    log_w = log_lik + log_prior - log_q                                          # (k,)
    return jax.nn.logsumexp(log_w) - jnp.log(k)


def _check_data(params, x, name="x"):
    x = _checks.array(x, name, ndim=2)
    data_dim = dims(params)[0]
    if x.shape[1] != data_dim:
        raise ValueError(f"{name} must have data_dim = {data_dim} columns (the VAE's input size), "
                         f"got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must contain at least one example")
    if _checks.is_concrete(x) and not bool(jnp.all((x == 0) | (x == 1))):
        raise ValueError(f"{name} must be binary (0 or 1) for a Bernoulli decoder")
    return x


@jax.jit
def _terms(key, params, x):
    return jax.vmap(_terms_one, (0, None, 0))(jax.random.split(key, x.shape[0]), params, x)


def elbo_terms(key, params, x):
    r"""Per-example reconstruction :math:`\log p(x \mid z)`, :math:`z \sim q(z \mid x)`,
    and :math:`\mathrm{KL}(q(z\mid x) \| p(z))`.

    The distortion of the rate–distortion view (Alemi et al. 2018) is the
    negative reconstruction term, the rate is the KL term.

    Returns
    -------
    reconstruction, kl : Array, shape (N,)
    """
    _checks.key(key)
    return _terms(key, params, _check_data(params, x))


def elbo(key, params, x, beta=1.0):
    r"""Per-example single-sample ELBO
    :math:`\log p(x \mid z) - \beta\,\mathrm{KL}(q(z \mid x) \| p(z))`, shape (N,).

    With ``beta = 1`` this is an unbiased estimate of the ELBO, a lower bound on
    :math:`\log p(x)` in expectation; other ``beta`` give the β-VAE objective
    (Higgins et al. 2017).
    """
    _checks.positive(beta, "beta")
    reconstruction, kl = elbo_terms(key, params, x)
    return reconstruction - beta * kl


@partial(jax.jit, static_argnames="k")
def _iwae(key, params, x, k):
    keys = jax.random.split(key, x.shape[0])
    return jax.vmap(_iwae_one, (0, None, 0, None))(keys, params, x, k)


def iwae_bound(key, params, x, k):
    r"""Per-example importance-weighted bound (Burda et al. 2016), shape (N,).

    .. math::

        \mathcal{L}_k(x) = \log \frac1k \sum_{i=1}^k
        \frac{p(x \mid z_i)\, p(z_i)}{q(z_i \mid x)}, \qquad z_i \sim q(z \mid x).

    :math:`\mathbb{E}\,\mathcal{L}_1` is the ELBO, :math:`\mathbb{E}\,\mathcal{L}_k`
    is non-decreasing in ``k`` and tends to :math:`\log p(x)`.
    """
    _checks.key(key)
    k = _checks.positive_int(k, "k")
    return _iwae(key, params, _check_data(params, x), k)


def _loss(params, key, x, beta):
    reconstruction, kl = jax.vmap(_terms_one, (0, None, 0))(
        jax.random.split(key, x.shape[0]), params, x)
    return -jnp.mean(reconstruction - beta * kl)


@partial(jax.jit, static_argnames=("num_epochs", "batch_size", "optimizer", "sharding"))
def _fit(key, params, x_train, x_test, num_epochs, batch_size, optimizer, beta, sharding):
    num_batches = x_train.shape[0] // batch_size

    def batch_step(carry, inputs):
        params, opt_state = carry
        key, batch = inputs
        batch = device.shard_batch(batch, sharding)                     # (|B|, D)
        loss, grads = jax.value_and_grad(_loss)(params, key, batch, beta)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), -loss

    def epoch_step(carry, key):
        k_perm, k_batches, k_test = jax.random.split(key, 3)
        batches = x_train[minibatches(k_perm, x_train.shape[0], batch_size)]  # (B, |B|, D)
        carry, train = jax.lax.scan(batch_step, carry,
                                    (jax.random.split(k_batches, num_batches), batches))
        test = jnp.nan if x_test is None else -_loss(carry[0], k_test, x_test, 1.0)
        return carry, (jnp.mean(train), test)

    carry = (params, optimizer.init(params))
    (params, _), (train, test) = jax.lax.scan(epoch_step, carry,
                                              jax.random.split(key, num_epochs))
    return params, FitTrace(train, jnp.asarray(test, dtype=train.dtype))


def fit(key, params, x_train, num_epochs, batch_size, optimizer, beta=1.0, x_test=None,
        devices=None):
    """Train a VAE by minibatch stochastic gradient ascent on the (β-)ELBO.

    Each epoch shuffles ``x_train`` and runs ``N // batch_size`` steps of
    ``optimizer`` on the mean single-sample ELBO of a minibatch (the last
    ``N mod batch_size`` shuffled examples sit the epoch out). Everything runs
    in one ``jax.jit``-compiled ``lax.scan`` over epochs and, inside, over
    minibatches; pass the same ``optimizer`` object again to reuse the
    compiled code.

    Parameters
    ----------
    key : PRNG key
    params : VAEParams
    x_train : array, shape (N, data_dim), binary
    num_epochs, batch_size : int
        ``batch_size`` must not exceed ``N``.
    optimizer : optax.GradientTransformation
    beta : float
        Weight of the KL term (1 for the ELBO; the β-VAE otherwise).
    x_test : array, shape (M, data_dim), optional
        Held-out data whose ELBO is traced after each epoch.
    devices : sequence of jax.Device, optional
        Split each minibatch over these devices (all local devices by
        default); see :func:`vibook.device.batch_sharding`.

    Returns
    -------
    params : VAEParams
    trace : FitTrace
    """
    _checks.key(key)
    x_train = _check_data(params, x_train, "x_train")
    if x_test is not None:
        x_test = _check_data(params, x_test, "x_test")
    num_epochs = _checks.positive_int(num_epochs, "num_epochs")
    batch_size = _checks.batch_size(batch_size, x_train.shape[0])
    _checks.optimizer(optimizer)
    beta = _checks.positive(beta, "beta")
    sharding = device.batch_sharding(batch_size, devices)
    key, params, x_train, x_test = device.replicate((key, params, x_train, x_test), sharding)
    return _fit(key, params, x_train, x_test, num_epochs, batch_size, optimizer,
                jnp.asarray(beta, dtype=x_train.dtype), sharding)
