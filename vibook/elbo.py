r"""The evidence lower bound and its Monte Carlo estimators.

.. math::

    \mathcal L(\phi) = \mathbb{E}_{q_\phi}[\log p(z, x) - \log q_\phi(z)]
    = \log p(x) - \mathrm{KL}(q_\phi \,\|\, p(z \mid x)) \le \log p(x)

(Jordan et al. 1999; Blei et al. 2017). Each estimator below has the
signature ``(key, params, ...)`` and returns a scalar whose **value** is a
Monte Carlo estimate of :math:`\mathcal L` and whose **gradient** in
``params`` (by ``jax.grad``) is the named gradient estimator, so that
``functools.partial`` turns any of them into an objective for
:func:`vibook.vi.fit`.

* :func:`reparam`: pathwise gradients through :math:`z = g(\epsilon; \phi)`;
* :func:`reparam_entropy`: the same with the entropy in closed form;
* :func:`reparam_kl`: expected log-likelihood minus a closed-form
  :math:`\mathrm{KL}(q\|p(z))`;
* :func:`score_function`: REINFORCE, needing only :math:`\log q`'s gradient;
* :func:`importance_weighted`: the importance-weighted bound with :math:`K` draws
  :math:`\mathcal L \le \mathcal L_k \le \log p(x)`;
* :func:`renyi`: the variational Rényi bound of order :math:`\alpha`, from
  the ELBO (:math:`\alpha \to 1`) to :math:`\log p(x)` (:math:`\alpha = 0`).

``num_samples`` is always the number :math:`S` of Monte Carlo draws
:math:`z_s \sim q_\phi` (inside the log for :func:`importance_weighted`).
The exact ELBO of the family :math:`q = \mathrm{Exp}(\phi)` for
:class:`vibook.models.ExponentialNormal` is its method ``elbo``.

``log_joint`` takes **one** draw ``z`` (an array of the event shape, or a
pytree such as a dict when the family's ``loc`` is one) and returns a scalar;
vibook maps it over the :math:`S` draws with ``jax.vmap``. This is the
one convention of every log density in vibook (:func:`vibook.mcmc.nuts`,
:func:`vibook.optimize.find_mode`, :mod:`vibook.marginal`, the flows). A
function that also takes the data, ``log_joint(z, x)``, is passed as
``lambda z: log_joint(z, x)``; one written for a batch (indexing ``z[:, j]``)
raises a ``TypeError`` that says so.

>>> import jax, jax.numpy as jnp
>>> from vibook import elbo, families
>>> log_joint = lambda z: -0.5 * jnp.sum(z**2, axis=-1)     # N(0, I), unnormalised
>>> params = families.normal.init(jnp.zeros(2), 1.0)       # q = p: log w is constant
>>> round(float(elbo.reparam(jax.random.key(0), params, log_joint, families.normal, 100)), 4)
1.8379
"""

import jax
import jax.numpy as jnp

from vibook import _checks


def _draw_checks(key, family, num_samples, fns):
    """Check the arguments every estimator shares; return ``(key, family, S)``."""
    key = _checks.key(key)
    family = _checks.family(family)
    n = _checks.positive_int(num_samples, "num_samples")
    for name, fn in fns.items():
        usage = f"{name}(params)" if name == "kl_to_prior" else f"{name}(z)"
        _checks.function(fn, name, usage)
        _checks.signature(fn, name, usage, 1)
    return key, family, n


def _draw(key, params, family, num_samples, fns):
    """Check the arguments every estimator shares; return the draws ``z ~ q``, ``(S,) + event``."""
    key, family, n = _draw_checks(key, family, num_samples, fns)
    return family.sample(key, params, n)                             # (S,) + event


def reparam(key, params, log_joint, family, num_samples=1):
    r"""Reparameterised ELBO: :math:`\frac1S\sum_s [\log p(z_s, x) - \log q_\phi(z_s)]`,
    :math:`z_s = g(\epsilon_s; \phi)`.

    Its gradient is the pathwise (reparameterisation) estimator
    (Kingma & Welling 2014; Mohamed et al. 2020, §5).

    Parameters
    ----------
    key : PRNG key
    params : pytree
        The family's parameters.
    log_joint : callable
        ``log_joint(z) -> ()``: :math:`\log p(z, x)` with ``x`` fixed, for one
        draw ``z`` of the event shape (or pytree); vibook maps it over draws.
    family : vibook.families.Family
        E.g. ``vibook.families.normal``.
    num_samples : int
        :math:`S`, the number of draws.

    Returns
    -------
    Array
        Scalar: the estimate (differentiable in ``params``).

    Raises
    ------
    TypeError
        If ``key`` is not one PRNG key, ``family`` not a Family, or
        ``log_joint`` not callable as ``log_joint(z)``, for example
        ``log_joint(z, x)`` when the data are not fixed, or one that fails on
        one draw (written for a batch of draws).
    ValueError
        If ``log_joint`` returns anything but a scalar for one draw (e.g. the
        per-dimension terms, not their sum) or NaN/inf; under ``jit`` the values are checked on the
        device (see ``vibook._checks``).

    Notes
    -----
    For a family with ``sample_and_log_prob`` (the full-rank Gaussian),
    :math:`\log q_\phi(z_s)` is computed from :math:`\epsilon_s` directly, so it
    stays exact in float32 when the Cholesky factor is badly conditioned.

    See also
    --------
    reparam_entropy, reparam_kl : the same gradient; one term in closed form.
    vibook.vi.fit : maximise it.

    Examples
    --------
    >>> import functools, jax, jax.numpy as jnp
    >>> from vibook import families
    >>> log_joint = lambda z: -0.5 * jnp.sum((z - 1.0) ** 2, axis=-1)
    >>> params = families.full_rank_normal.init(jnp.zeros(2))
    >>> objective = functools.partial(reparam, log_joint=log_joint,
    ...                               family=families.full_rank_normal, num_samples=8)
    >>> objective(jax.random.key(0), params).shape
    ()
    """
    return jnp.mean(_log_weights(key, params, log_joint, family, num_samples))


def reparam_entropy(key, params, log_joint, family, num_samples=1):
    r""":math:`\frac1S\sum_s \log p(z_s, x) + \mathbb{H}[q_\phi]`, the entropy in closed form.

    For a location–scale family, :math:`z = m + s\epsilon` (or a scale family
    such as the exponential), :math:`\log q_\phi(z_i) + \mathbb{H}[q_\phi]`
    does not depend on :math:`\phi` at fixed :math:`\epsilon_i`, so the
    gradient equals :func:`reparam`'s draw by draw. The value is *not* a
    lower-variance estimate in general: near the optimum, where
    :math:`\log p(z, x) - \log q_\phi(z)` is nearly constant,
    :func:`reparam`'s value is the less noisy one, and at
    :math:`q_\phi = p(z \mid x)` its variance is zero (Roeder et al. 2017).

    Parameters and Raises as in :func:`reparam`; ``family.entropy`` must exist
    in closed form (flows raise ``NotImplementedError``).

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from vibook import families
    >>> params = families.normal.init(0.0, 1.0)
    >>> value = reparam_entropy(jax.random.key(0), params, lambda z: -0.5 * z**2,
    ...                         families.normal, 4)
    >>> value.shape
    ()
    """
    z = _draw(key, params, family, num_samples, {"log_joint": log_joint})
    return jnp.mean(_checks.per_draw(log_joint, "log_joint", z)) + family.entropy(params)


def reparam_kl(key, params, log_likelihood, kl_to_prior, family, num_samples=1):
    r""":math:`\frac1S\sum_s \log p(x \mid z_s) - \mathrm{KL}(q_\phi \| p(z))`, the KL in
    closed form.

    Parameters
    ----------
    log_likelihood : callable
        ``log_likelihood(z) -> ()``: :math:`\log p(x \mid z)` for one draw.
    kl_to_prior : callable
        ``kl_to_prior(params)``: :math:`\mathrm{KL}(q_\phi \| p(z))`.

    Raises
    ------
    TypeError
        If ``log_likelihood`` is not callable as ``log_likelihood(z)`` or
        ``kl_to_prior`` as ``kl_to_prior(params)``.
    ValueError
        If ``log_likelihood`` does not return a scalar for one draw or
        ``kl_to_prior`` a scalar, or either is not finite.

    See also
    --------
    vibook.divergences.kl_normal : a closed-form KL between Gaussians.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from vibook import divergences, families
    >>> params = families.normal.init(0.5, 1.0)
    >>> kl = lambda p: divergences.kl_normal(*families.normal.unpack(p), 0.0, 1.0)
    >>> value = reparam_kl(jax.random.key(0), params, lambda z: -0.5 * (1.0 - z) ** 2, kl,
    ...                    families.normal, 4)
    >>> value.shape
    ()
    """
    fns = {"log_likelihood": log_likelihood, "kl_to_prior": kl_to_prior}
    z = _draw(key, params, family, num_samples, fns)
    kl = _checks.user_output(kl_to_prior(params), "kl_to_prior", "kl_to_prior(params)",
                             shape=())
    return jnp.mean(_checks.per_draw(log_likelihood, "log_likelihood", z)) - kl


def score_function(key, params, log_joint, family, num_samples=1, baseline=None):
    r"""ELBO whose gradient is the score-function (REINFORCE) estimator.

    .. math::

        \widehat{\nabla_\phi \mathcal L} = \frac1S \sum_s \nabla_\phi \log q_\phi(z_s)\,
        \big(f(z_s) - b_s\big), \qquad f = \log p(z, x) - \log q_\phi(z),

    with the draws :math:`z_s` held fixed (no gradient flows through them), so
    it works for any family whose log density can be differentiated
    (Williams 1992; Ranganath et al. 2014). The value returned is the plain
    Monte Carlo ELBO :math:`\frac1S \sum_s f(z_s)`.

    Parameters
    ----------
    baseline : None, float or "mean"
        :math:`b_s`: zero, a constant, or ``"mean"``, the leave-one-out mean of
        the other draws' :math:`f` (keeps the estimator unbiased;
        ``num_samples >= 2``).

    Raises
    ------
    ValueError
        If ``baseline`` is a string other than ``"mean"``, or ``"mean"`` with
        ``num_samples < 2``; as in :func:`reparam` for ``log_joint``.
    TypeError
        As in :func:`reparam`.

    Examples
    --------
    >>> import jax
    >>> from vibook import families
    >>> params = families.exponential.init(1.0)
    >>> value = score_function(jax.random.key(0), params, lambda z: -z, families.exponential,
    ...                        num_samples=8, baseline="mean")
    >>> value.shape
    ()
    """
    z = jax.lax.stop_gradient(_draw(key, params, family, num_samples, {"log_joint": log_joint}))
    log_q = family.log_prob(params, z)                               # (S,)
    f = jax.lax.stop_gradient(_checks.per_draw(log_joint, "log_joint", z) - log_q)   # (S,)
    if baseline is None:
        b = 0.0
    elif isinstance(baseline, str):
        if baseline != "mean":
            raise ValueError(f'baseline must be None, a number or "mean", got {baseline!r}')
        if f.shape[0] < 2:
            raise ValueError(f'baseline="mean" needs num_samples >= 2, got {f.shape[0]}')
        b = (jnp.sum(f) - f) / (f.shape[0] - 1)
    else:
        b = _checks.finite(baseline, "baseline")
    surrogate = jnp.mean(log_q * (f - b))
    return jnp.mean(f) + surrogate - jax.lax.stop_gradient(surrogate)


def _log_weights(key, params, log_joint, family, S, allow_neg_inf=False):
    """``log w_i = log p(z_i, x) - log q(z_i)`` for ``S`` draws ``z_i ~ q``, shape ``(S,)``.

    A family with ``sample_and_log_prob`` gives ``log q`` from the noise of each
    draw (no inversion of ``z = g(eps)``, which loses every digit in float32
    once a full-rank ``L`` is badly conditioned); otherwise ``log_prob(params, z)``.
    """
    if _checks.family(family).sample_and_log_prob is None:
        z = _draw(key, params, family, S, {"log_joint": log_joint})
        log_q = family.log_prob(params, z)                          # (S,)
    else:
        _draw_checks(key, family, S, {"log_joint": log_joint})
        z, log_q = family.sample_and_log_prob(key, params, S)       # (S,) + event, (S,)
    log_p = _checks.per_draw(log_joint, "log_joint", z, allow_neg_inf)
    return log_p - log_q                                            # (S,)


def importance_weighted(key, params, log_joint, family, num_samples, num_estimates=1):
    r"""The importance-weighted bound with :math:`K` = ``num_samples`` draws (Burda et al. 2016).

    .. math::

        \mathcal L_K = \mathbb{E}\Big[\log \frac1K \sum_{i=1}^K w_i\Big], \qquad
        w_i = \frac{p(z_i, x)}{q_\phi(z_i)}, \quad z_i \sim q_\phi,

    estimated by the average of ``num_estimates`` independent :math:`K`-draw
    terms. By Jensen, :math:`\mathcal L_1 = \mathcal L \le \mathcal L_K \le
    \mathcal L_{K+1} \le \log p(x)`, and :math:`\mathcal L_K \to \log p(x)` as
    :math:`K \to \infty`
    when :math:`q_\phi > 0` wherever the posterior is (the weights then have
    mean :math:`p(x)`; Burda et al. 2016, Theorem 1). Its reparameterised gradient weights
    each draw's :math:`\nabla_\phi \log w_i` by :math:`w_i / \sum_j w_j`.

    Parameters
    ----------
    key : PRNG key
    params : pytree
        The family's parameters.
    log_joint : callable
        ``log_joint(z) -> ()``: :math:`\log p(z, x)` for one draw.
    family : vibook.families.Family
    num_samples : int
        :math:`K`, the draws inside the log (as in :func:`vibook.vae.iwae_bound`).
    num_estimates : int
        Independent :math:`K`-draw estimates averaged.

    Raises
    ------
    ValueError
        If ``num_samples`` or ``num_estimates`` is < 1; as in :func:`reparam`
        for ``log_joint`` (which may return ``-inf``, a zero weight).

    See also
    --------
    renyi : :math:`\alpha = 0` gives the same estimate.
    vibook.marginal.importance_sampling : :math:`\log p(x)` with a fixed proposal.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from vibook import families
    >>> log_joint = lambda z: -0.5 * z**2 - 0.5 * jnp.log(2 * jnp.pi)   # Z = 1: log p(x) = 0
    >>> params = families.normal.init(0.0, 1.0)
    >>> value = importance_weighted(jax.random.key(0), params, log_joint, families.normal, 16)
    >>> bool(abs(value) < 1e-5)
    True
    """
    k = _checks.positive_int(num_samples, "num_samples")
    n = _checks.positive_int(num_estimates, "num_estimates")
    log_w = _log_weights(key, params, log_joint, family, n * k, True).reshape(n, k)  # (n, k)
    return jnp.mean(jax.nn.logsumexp(log_w, axis=1) - jnp.log(k))


def renyi(key, params, log_joint, family, alpha, num_samples=1):
    r"""The variational Rényi (VR) bound of order :math:`\alpha` (Li & Turner 2016).

    .. math::

        \mathcal L_\alpha = \frac{1}{1 - \alpha}
        \log \mathbb{E}_{q_\phi}\Big[\Big(\frac{p(z, x)}{q_\phi(z)}\Big)^{1-\alpha}\Big]
        = \log p(x) - D_\alpha(q_\phi \,\|\, p(z \mid x)),

    where :math:`D_\alpha` is Rényi's divergence. It is non-increasing in
    :math:`\alpha`: :math:`\alpha \to 1` gives the ELBO, :math:`\alpha = 0` gives
    :math:`\log p(x)` itself, and for :math:`\alpha < 0` it is an upper bound.
    Maximising it with smaller :math:`\alpha` makes :math:`q` more
    mass-covering. The estimate with :math:`S` = ``num_samples`` draws,

    .. math::

        \hat{\mathcal L}_\alpha = \frac1{1-\alpha}
        \log \frac1S \sum_{s=1}^S w_s^{1-\alpha},

    is biased (it is exactly :func:`importance_weighted` with the same
    ``num_samples`` at :math:`\alpha = 0`); at :math:`\alpha = 1` it is the
    ELBO estimate :math:`\frac1S \sum_s \log w_s` (:func:`reparam`). When :math:`q_\phi` is the
    exact posterior every :math:`w_s = p(x)` and it returns :math:`\log p(x)` for
    every :math:`\alpha`.

    Parameters
    ----------
    key, params, log_joint, family
        As in :func:`reparam`.
    alpha : float
        The order :math:`\alpha`, any finite real number.
    num_samples : int
        :math:`S`, the number of draws.

    Raises
    ------
    TypeError
        If ``alpha`` is not a real number (a complex one included).
    ValueError
        If ``alpha`` is NaN or infinite (under ``jit``, on the device); as in
        :func:`reparam` otherwise.

    See also
    --------
    importance_weighted : :math:`\alpha = 0`.
    reparam : :math:`\alpha = 1`.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from vibook import families
    >>> log_joint = lambda z: -0.5 * z**2 - 0.5 * jnp.log(2 * jnp.pi)   # q = p: every alpha gives 0
    >>> params = families.normal.init(0.0, 1.0)
    >>> [bool(abs(renyi(jax.random.key(0), params, log_joint, families.normal, a, 8)) < 1e-5)
    ...  for a in (-1.0, 0.5, 1.0)]
    [True, True, True]
    """
    alpha = _checks.finite(alpha, "alpha")
    if not _checks.is_concrete(alpha):                  # under jit: checked on the device
        _checks.check(jnp.isfinite(alpha), "alpha must be a finite number, got NaN or inf")
    log_w = _log_weights(key, params, log_joint, family, num_samples, allow_neg_inf=True)
    at_one = alpha == 1
    one_minus = jnp.where(at_one, 1.0, 1.0 - alpha)
    vr = (jax.nn.logsumexp(one_minus * log_w) - jnp.log(log_w.shape[0])) / one_minus
    return jnp.where(at_one, jnp.mean(log_w), vr)
