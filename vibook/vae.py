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
is any optax ``GradientTransformation``. Training follows the algorithm
contract: :func:`step` is one optimiser step on a minibatch, and :func:`fit`
runs epochs of them in ``lax.scan`` (data-parallel inside
:func:`vibook.device.data_parallel`).
"""

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from vibook import _checks, _mlp, _scan


class VAEParams(NamedTuple):
    """The encoder and decoder MLPs, each a list of ``(W, b)`` pairs."""

    encoder: list   # last layer outputs (mean, raw scale): 2 * latent_dim
    decoder: list   # last layer outputs Bernoulli logits: data_dim


class VAEState(NamedTuple):
    """The VAE's parameters and the optimiser's state: ``VAEState(params, optimizer.init(params))``."""

    params: VAEParams
    opt_state: object


class VAEInfo(NamedTuple):
    """What one :func:`step` reports.

    Attributes
    ----------
    elbo : Array
        Scalar: the single-sample (β-)ELBO at the parameters before the step,
        a mean per example over the minibatch (nats per example).
    """

    elbo: jax.Array


class FitTrace(NamedTuple):
    """What :func:`fit` reports after each epoch, in nats per example (means, not totals)."""

    train_elbo: jax.Array   # (num_epochs,) mean of the epoch's VAEInfo.elbo (the (β-)ELBO)
    test_elbo: jax.Array    # (num_epochs,) ELBO (β = 1) of x_test after the epoch; NaN if none


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

    Examples
    --------
    >>> import jax
    >>> params = init(jax.random.key(0), 4, 2, hidden_dims=(8,))
    >>> [w.shape for w, b in params.encoder], [w.shape for w, b in params.decoder]
    ([(4, 8), (8, 4)], [(2, 8), (8, 4)])
    """
    _checks.key(key)
    data_dim = _checks.positive_int(data_dim, "data_dim")
    latent_dim = _checks.positive_int(latent_dim, "latent_dim")
    hidden = [_checks.positive_int(h, "hidden_dims") for h in hidden_dims]
    k_enc, k_dec = jax.random.split(key)
    return VAEParams(encoder=_mlp.init(k_enc, [data_dim, *hidden, 2 * latent_dim]),
                     decoder=_mlp.init(k_dec, [latent_dim, *hidden[::-1], data_dim]))


def _check_params(params):
    return _checks.state(params, VAEParams, "vibook.vae.init", name="params")


def dims(params):
    """``(data_dim, latent_dim)`` of a VAE.

    Examples
    --------
    >>> import jax
    >>> dims(init(jax.random.key(0), 4, 2, hidden_dims=(8,)))
    (4, 2)
    """
    _check_params(params)
    return params.encoder[0][0].shape[0], params.decoder[0][0].shape[0]


def _last_axis(value, name, size, what):
    out = _checks.array(value, name)
    if out.ndim < 1 or out.shape[-1] != size:
        raise ValueError(f"{name} must have shape (..., {size}), its last axis the {what}; "
                         f"got shape {out.shape}")
    return out


def _encode(params, x):
    mean, raw_scale = jnp.split(_mlp.apply(params.encoder, x), 2, axis=-1)
    return mean, jax.nn.softplus(raw_scale) + 1e-6


def encode(params, x):
    r"""Encoder: :math:`(\mu_\phi(x), \sigma_\phi(x))`, with
    :math:`\sigma = \mathrm{softplus}(\cdot) + 10^{-6}`.

    ``x`` has shape ``(..., data_dim)``; both outputs have shape ``(..., latent_dim)``.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> params = init(jax.random.key(0), 4, 2, hidden_dims=(8,))
    >>> mean, scale = encode(params, jnp.ones((3, 4)))
    >>> mean.shape, scale.shape, bool(jnp.all(scale > 0))
    ((3, 2), (3, 2), True)
    """
    data_dim, _ = dims(params)
    return _encode(params, _last_axis(x, "x", data_dim, "data_dim of the VAE"))


def _decode(params, z):
    return _mlp.apply(params.decoder, z)


def decode(params, z):
    """Decoder: Bernoulli logits of :math:`p_\\theta(x \\mid z)`, shape ``(..., data_dim)``.

    ``z`` has shape ``(..., latent_dim)``.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> params = init(jax.random.key(0), 4, 2, hidden_dims=(8,))
    >>> decode(params, jnp.zeros((5, 2))).shape                 # logits, one per pixel
    (5, 4)
    """
    _, latent_dim = dims(params)
    return _decode(params, _last_axis(z, "z", latent_dim, "latent_dim of the VAE"))


def _bernoulli_log_prob(logits, x):
    return jnp.sum(x * logits - jax.nn.softplus(logits), axis=-1)


def bernoulli_log_prob(logits, x):
    r""":math:`\sum_j x_j \ell_j - \mathrm{softplus}(\ell_j)`, the log Bernoulli likelihood
    from logits :math:`\ell`, summed over the last axis.

    ``logits`` and ``x`` have the same last axis (the pixels) and broadcast
    against each other; ``x`` holds 0s and 1s.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> logp = bernoulli_log_prob(jnp.zeros(3), jnp.array([0.0, 1.0, 1.0]))
    >>> round(float(logp), 4)                                   # logit 0: 3 log(1/2)
    -2.0794
    """
    logits = _checks.array(logits, "logits")
    x = _last_axis(x, "x", logits.shape[-1] if logits.ndim else 1, "same length as logits'")
    if _checks.is_concrete(x) and not bool(jnp.all((x == 0) | (x == 1))):
        raise ValueError("x must be binary (0 or 1) for a Bernoulli likelihood")
    return _bernoulli_log_prob(logits, x)


def _gaussian_kl(mean, scale):
    return 0.5 * (mean**2 + scale**2 - 1.0) - jnp.log(scale)


def gaussian_kl(mean, scale):
    r"""Closed-form :math:`\mathrm{KL}(\mathcal{N}(\mu, \sigma^2) \| \mathcal{N}(0, 1))`
    per coordinate.

    .. math:: \tfrac12(\mu^2 + \sigma^2 - 1) - \log\sigma

    Sum over the last axis for the KL of a diagonal Gaussian (Kingma & Welling
    2014, appendix B). ``mean`` and ``scale`` (every entry :math:`> 0`) have
    the same shape.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> gaussian_kl(jnp.array([0.0, 1.0]), jnp.array([1.0, 1.0])).tolist()  # 0, mu^2 / 2
    [0.0, 0.5]
    """
    mean = _checks.array(mean, "mean")
    scale = _checks.positive_entries(scale, "scale", shape=mean.shape)
    return _gaussian_kl(mean, scale)


def _terms_one(key, params, x):
    """Single-sample reconstruction term and analytic KL for one example."""
    mean, scale = _encode(params, x)
    z = mean + scale * jax.random.normal(key, mean.shape)        # reparameterisation
    return _bernoulli_log_prob(_decode(params, z), x), jnp.sum(_gaussian_kl(mean, scale))


def _iwae_one(key, params, x, num_samples):
    """The ``num_samples``-draw importance-weighted bound for one example."""
    mean, scale = _encode(params, x)
    eps = jax.random.normal(key, (num_samples, mean.shape[-1]))  # (k, L)
    z = mean[None, :] + scale[None, :] * eps                    # (k, L)
    log_lik = _bernoulli_log_prob(_decode(params, z), x[None, :])                # (k,)
    log_prior = jnp.sum(jax.scipy.stats.norm.logpdf(z), axis=-1)                 # (k,)
    log_q = jnp.sum(jax.scipy.stats.norm.logpdf(z, mean[None, :], scale[None, :]), axis=-1)
    log_w = log_lik + log_prior - log_q                                          # (k,)
    return jax.nn.logsumexp(log_w) - jnp.log(num_samples)


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


def _terms_batch(key, params, x):
    return jax.vmap(_terms_one, (0, None, 0))(jax.random.split(key, x.shape[0]), params, x)


_terms = jax.jit(_terms_batch)


def elbo_terms(key, params, x):
    r"""Per-example reconstruction :math:`\log p(x \mid z)`, :math:`z \sim q(z \mid x)`,
    and :math:`\mathrm{KL}(q(z\mid x) \| p(z))`.

    The distortion of the rate–distortion view (Alemi et al. 2018) is the
    negative reconstruction term, the rate is the KL term.

    Returns
    -------
    reconstruction, kl : Array, shape (N,)

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> params = init(jax.random.key(0), 4, 2, hidden_dims=(8,))
    >>> x = jax.random.bernoulli(jax.random.key(1), 0.5, (3, 4)).astype(jnp.float32)
    >>> reconstruction, kl = elbo_terms(jax.random.key(2), params, x)
    >>> reconstruction.shape, bool(jnp.all(kl >= 0))
    ((3,), True)
    """
    _checks.key(key)
    return _terms(key, params, _check_data(params, x))


def elbo(key, params, x, beta=1.0):
    r"""Per-example single-sample ELBO
    :math:`\log p(x \mid z) - \beta\,\mathrm{KL}(q(z \mid x) \| p(z))`, shape (N,).

    With ``beta = 1`` this is an unbiased estimate of the ELBO, a lower bound on
    :math:`\log p(x)` in expectation; other ``beta`` give the β-VAE objective
    (Higgins et al. 2017).

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> params = init(jax.random.key(0), 4, 2, hidden_dims=(8,))
    >>> x = jax.random.bernoulli(jax.random.key(1), 0.5, (3, 4)).astype(jnp.float32)
    >>> reconstruction, kl = elbo_terms(jax.random.key(2), params, x)
    >>> bool(jnp.allclose(elbo(jax.random.key(2), params, x, beta=2.0), reconstruction - 2 * kl))
    True
    """
    _checks.positive(beta, "beta")
    reconstruction, kl = elbo_terms(key, params, x)
    return reconstruction - beta * kl


@partial(jax.jit, static_argnames="num_samples")
def _iwae(key, params, x, num_samples):
    keys = jax.random.split(key, x.shape[0])
    return jax.vmap(_iwae_one, (0, None, 0, None))(keys, params, x, num_samples)


def iwae_bound(key, params, x, num_samples):
    r"""Per-example importance-weighted bound (Burda et al. 2016), shape (N,).

    .. math::

        \mathcal{L}_k(x) = \log \frac1k \sum_{i=1}^k
        \frac{p(x \mid z_i)\, p(z_i)}{q(z_i \mid x)}, \qquad z_i \sim q(z \mid x),

    with :math:`k` = ``num_samples``. :math:`\mathbb{E}\,\mathcal{L}_1` is
    the ELBO, :math:`\mathbb{E}\,\mathcal{L}_k` is non-decreasing in
    :math:`k` and tends to :math:`\log p(x)`.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> params = init(jax.random.key(0), 4, 2, hidden_dims=(8,))
    >>> x = jax.random.bernoulli(jax.random.key(1), 0.5, (3, 4)).astype(jnp.float32)
    >>> iwae_bound(jax.random.key(2), params, x, num_samples=16).shape   # one bound per example
    (3,)
    """
    _checks.key(key)
    num_samples = _checks.positive_int(num_samples, "num_samples")
    return _iwae(key, params, _check_data(params, x), num_samples)


def _mean_elbo(params, key, x, beta):
    reconstruction, kl = _terms_batch(key, params, x)
    return jnp.mean(reconstruction - beta * kl)


def _step(key, state, x_batch, optimizer, beta):
    value, grads = jax.value_and_grad(_mean_elbo)(state.params, key, x_batch, beta)
    ascent = jax.tree.map(jnp.negative, grads)                       # optax minimises
    updates, opt_state = optimizer.update(ascent, state.opt_state, state.params)
    return VAEState(optax.apply_updates(state.params, updates), opt_state), VAEInfo(value)


def step(key, state, x_batch, optimizer, beta=1.0):
    r"""One optimiser step on the mean single-sample (β-)ELBO of a minibatch.

    Parameters
    ----------
    key : PRNG key
        The draws :math:`z \sim q(z \mid x)` of this step.
    state : VAEState
        ``VAEState(params, optimizer.init(params))``, or a previous step's.
    x_batch : array, shape (|B|, data_dim), binary
    optimizer : optax.GradientTransformation
    beta : float
        Weight of the KL term (1 for the ELBO).

    Returns
    -------
    state : VAEState
    info : VAEInfo
        ``info.elbo``: the minibatch's mean (β-)ELBO per example before the step.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, optax
    >>> params, optimizer = init(jax.random.key(0), 4, 2, hidden_dims=(8,)), optax.adam(1e-2)
    >>> x = jax.random.bernoulli(jax.random.key(1), 0.5, (3, 4)).astype(jnp.float32)
    >>> state = VAEState(params, optimizer.init(params))
    >>> state, info = step(jax.random.key(2), state, x, optimizer)
    >>> info.elbo.shape, dims(state.params)
    ((), (4, 2))
    """
    _checks.key(key)
    _checks.state(state, VAEState, "vibook.vae.VAEState(params, optimizer.init(params))")
    x_batch = _check_data(state.params, x_batch, "x_batch")
    _checks.optimizer(optimizer)
    beta = _checks.positive(beta, "beta")
    return _jit_step(key, state, x_batch, optimizer, jnp.asarray(beta, dtype=x_batch.dtype))


_jit_step = jax.jit(_step, static_argnames="optimizer")


def _epoch(key, state, x_train, x_test, beta, *, batch_size, optimizer):
    k_perm, k_batches, k_test = jax.random.split(key, 3)
    step_keys = jax.random.split(k_batches, x_train.shape[0] // batch_size)
    state, info = _scan.epoch(_step, state, x_train, batch_size, k_perm, step_keys,
                              args=(optimizer, beta))
    test = jnp.nan if x_test is None else _mean_elbo(state.params, k_test, x_test, 1.0)
    return state, FitTrace(jnp.mean(info.elbo), jnp.asarray(test, dtype=info.elbo.dtype))


def fit(key, params, x_train, num_epochs, batch_size, optimizer, beta=1.0, x_test=None):
    """Train a VAE by minibatch stochastic gradient ascent on the (β-)ELBO.

    Each epoch shuffles ``x_train`` and runs :func:`step` on each of its
    ``N // batch_size`` minibatches (the last ``N mod batch_size`` shuffled
    examples sit the epoch out). Everything runs in one ``jax.jit``-compiled
    ``lax.scan`` over epochs and, inside, over minibatches; pass the same
    ``optimizer`` object again to reuse the compiled code. Inside
    :func:`vibook.device.data_parallel` each minibatch is split over the devices.

    Parameters
    ----------
    key : PRNG key
    params : VAEParams
        The start, from :func:`init`.
    x_train : array, shape (N, data_dim), binary
    num_epochs, batch_size : int
        ``batch_size`` must not exceed ``N``.
    optimizer : optax.GradientTransformation
    beta : float
        Weight of the KL term (1 for the ELBO; the β-VAE otherwise).
    x_test : array, shape (M, data_dim), optional
        Held-out data whose ELBO is traced after each epoch.

    Returns
    -------
    params : VAEParams
    trace : FitTrace
        ``train_elbo`` and ``test_elbo``, shape (num_epochs,), nats per example.

    Raises
    ------
    FloatingPointError
        If the training ELBO stops being finite (naming the epoch).

    Examples
    --------
    >>> import jax, jax.numpy as jnp, optax
    >>> params = init(jax.random.key(0), 4, 2, hidden_dims=(8,))
    >>> x = jax.random.bernoulli(jax.random.key(1), 0.5, (4, 4)).astype(jnp.float32)
    >>> params, trace = fit(jax.random.key(2), params, x, 2, 2, optax.adam(1e-2))
    >>> trace.train_elbo.shape, bool(jnp.all(jnp.isnan(trace.test_elbo)))   # no x_test
    ((2,), True)
    """
    _checks.key(key)
    x_train = _check_data(params, x_train, "x_train")
    if x_test is not None:
        x_test = _check_data(params, x_test, "x_test")
    num_epochs = _checks.positive_int(num_epochs, "num_epochs")
    batch_size = _checks.batch_size(batch_size, x_train.shape[0])
    _checks.optimizer(optimizer)
    beta = jnp.asarray(_checks.positive(beta, "beta"), dtype=x_train.dtype)
    state = VAEState(params, optimizer.init(params))
    state, trace = _scan.run(_epoch, state, (x_train, x_test, beta), num_epochs, key=key,
                             static={"batch_size": batch_size, "optimizer": optimizer},
                             name="vibook.vae.fit", objective="train_elbo")
    return state.params, trace
