"""The book's running examples, as small pytrees of parameters.

Two one-parameter models carry the whole argument:

* :class:`ExponentialNormal`: :math:`z \\sim \\mathrm{Exp}(\\lambda)`,
  :math:`x_i \\mid z \\sim \\mathcal{N}(z, \\sigma^2)`. The prior and the
  likelihood are easy; the marginal looks hard but has a closed form, which is
  exactly what lets the book check every approximation against the truth.
* :class:`NormalNormal`: :math:`\\mu \\sim \\mathcal{N}(\\mu_0, \\sigma_0^2)`,
  :math:`x_i \\mid \\mu \\sim \\mathcal{N}(\\mu, \\sigma^2)` i.i.d., the conjugate
  model whose posterior is known exactly.

In both, ``x`` is the whole data set: a scalar or a 1-D array of i.i.d.
observations. The latent argument (``z`` or ``mu``) may have any shape, e.g. a
grid of values, and the log densities are evaluated elementwise over it.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import stats
from jax.scipy.special import log_ndtr

from vibook import _checks


def _sum_over_data(logpdf, x, latent, name):
    """``sum_i logpdf(x_i, latent)`` for every element of ``latent`` (the argument ``name``)."""
    latent = _checks.array(latent, name)
    xs = _checks.observations(x).reshape((1,) * latent.ndim + (-1,))    # (1, ..., 1, N)
    return jnp.sum(logpdf(xs, latent[..., None]), axis=-1)


def _register(cls):
    """Make a frozen dataclass a pytree whose leaves are its fields.

    Unflattening bypasses ``__post_init__``: pytrees of the same structure also
    carry gradients and tracers, which need not be valid parameters.
    """
    fields = tuple(cls.__dataclass_fields__)

    def unflatten(_, leaves):
        obj = object.__new__(cls)
        for name, leaf in zip(fields, leaves):
            object.__setattr__(obj, name, leaf)
        return obj

    jax.tree_util.register_pytree_node(
        cls, lambda m: (tuple(getattr(m, f) for f in fields), None), unflatten)
    return cls


@_register
@dataclass(frozen=True)
class ExponentialNormal:
    r"""Exponential prior on a location, Gaussian noise around it.

    .. math::

        z \sim \mathrm{Exp}(\lambda), \qquad
        x_i \mid z \sim \mathcal{N}(z, \sigma^2), \quad i = 1, \dots, N.

    Parameters
    ----------
    rate : float
        The prior's rate :math:`\lambda > 0` (prior mean :math:`1/\lambda`).
    noise_scale : float
        The observation noise's standard deviation :math:`\sigma > 0`.
    """

    rate: float = 1.0
    noise_scale: float = 1.0

    def __post_init__(self):
        if _checks.is_concrete(self.rate):
            _checks.positive(self.rate, "rate")
        if _checks.is_concrete(self.noise_scale):
            _checks.positive(self.noise_scale, "noise_scale")

    def log_prior(self, z):
        r""":math:`\log p(z) = \log\lambda - \lambda z` for :math:`z \ge 0`,
        else :math:`-\infty`.

        Examples
        --------
        >>> model = ExponentialNormal(rate=2.0)
        >>> round(float(model.log_prior(1.0)), 4)                   # log 2 - 2
        -1.3069
        >>> float(model.log_prior(-1.0))                            # no mass below 0
        -inf
        """
        return stats.expon.logpdf(_checks.array(z, "z"), scale=1.0 / self.rate)

    def log_likelihood(self, x, z):
        r""":math:`\log p(x \mid z) = \sum_i \log \mathcal{N}(x_i; z, \sigma^2)`,
        one value per ``z``.

        Examples
        --------
        >>> import jax.numpy as jnp
        >>> model = ExponentialNormal()
        >>> model.log_likelihood(jnp.array([0.5, 1.5]), jnp.linspace(0.0, 2.0, 5)).shape
        (5,)
        """
        scale = self.noise_scale
        return _sum_over_data(lambda xi, zi: stats.norm.logpdf(xi, zi, scale), x, z, "z")

    def log_joint(self, z, x):
        r""":math:`\log p(z, x) = \log p(z) + \log p(x \mid z)`: the unnormalised log
        posterior in ``z``.

        Examples
        --------
        >>> import jax.numpy as jnp
        >>> model, x, z = ExponentialNormal(), jnp.array([0.5, 1.5]), jnp.linspace(0.0, 2.0, 5)
        >>> total = model.log_prior(z) + model.log_likelihood(x, z)
        >>> bool(jnp.allclose(model.log_joint(z, x), total))
        True
        """
        return self.log_prior(z) + self.log_likelihood(x, z)

    def log_marginal(self, x):
        r"""The exact log evidence :math:`\log p(x) = \log \int_0^\infty p(z)\, p(x \mid z)\, dz`.

        With :math:`\bar x` the data mean and :math:`s^2 = \sigma^2 / N`,

        .. math::

            \log p(x) = {} & \log C + \log\lambda + \tfrac12 \log(2\pi s^2) \\
                & - \lambda \bar x + \tfrac12 \lambda^2 s^2
                + \log \Phi\!\left(\frac{\bar x - \lambda s^2}{s}\right),

        where :math:`\log C = -\tfrac{N}{2}\log(2\pi\sigma^2) -
        \sum_i (x_i - \bar x)^2 / (2\sigma^2)`. For one observation this is
        :math:`\lambda \exp(-\lambda x + \lambda^2\sigma^2/2)\,
        \Phi((x - \lambda\sigma^2)/\sigma)`. :math:`\log\Phi` is evaluated
        with ``log_ndtr``, so it stays finite far in the tail.

        Examples
        --------
        >>> import jax.numpy as jnp
        >>> model, x = ExponentialNormal(), jnp.array([0.5, 1.5])
        >>> z = jnp.linspace(0.0, 12.0, 4001)
        >>> numeric = jnp.log(jnp.trapezoid(jnp.exp(model.log_joint(z, x)), z))   # quadrature
        >>> bool(jnp.isclose(model.log_marginal(x), numeric, atol=1e-4))
        True
        """
        x = _checks.observations(x)
        n = x.shape[0]
        lam, sigma = self.rate, self.noise_scale
        xbar = jnp.mean(x)
        s2 = sigma**2 / n
        log_c = (-0.5 * n * jnp.log(2 * jnp.pi * sigma**2)
                 - jnp.sum((x - xbar) ** 2) / (2 * sigma**2))
        return (log_c + jnp.log(lam) + 0.5 * jnp.log(2 * jnp.pi * s2)
                - lam * xbar + 0.5 * lam**2 * s2 + log_ndtr((xbar - lam * s2) / jnp.sqrt(s2)))

    def log_posterior(self, z, x):
        r"""The exact log posterior :math:`\log p(z \mid x) = \log p(z, x) - \log p(x)`.

        It is a normal :math:`\mathcal{N}(\bar x - \lambda s^2, s^2)` truncated to
        :math:`z \ge 0`; the book treats it as unknown and uses it only to check.

        Examples
        --------
        >>> import jax.numpy as jnp
        >>> model, x = ExponentialNormal(), jnp.array([0.5, 1.5])
        >>> z = jnp.linspace(0.0, 12.0, 4001)
        >>> round(float(jnp.trapezoid(jnp.exp(model.log_posterior(z, x)), z)), 4)  # a density
        1.0
        """
        return self.log_joint(z, x) - self.log_marginal(x)

    def elbo(self, x, rate):
        r"""The exact ELBO of the variational family :math:`q(z) = \mathrm{Exp}(\phi)`.

        :math:`\phi` is ``rate``, the rate of :math:`q` (not the prior's
        :math:`\lambda`). With data :math:`x_1, \dots, x_N`, using
        :math:`\mathbb{E}_q[z] = 1/\phi` and :math:`\mathbb{E}_q[z^2] = 2/\phi^2`:

        .. math::

            \begin{aligned}
            \mathcal L(\phi)
            = {}& \underbrace{\log\lambda - \frac{\lambda}{\phi}}_{\mathbb{E}_q \log p(z)}
              + \underbrace{1 - \log\phi}_{\mathbb{H}[q]} \\
            & - \sum_i \Big[\tfrac12 \log(2\pi\sigma^2)
              + \frac{x_i^2 - 2x_i/\phi + 2/\phi^2}{2\sigma^2}\Big],
            \end{aligned}

        a total over the :math:`N` observations.

        Parameters
        ----------
        x : float or array of shape (N,)
            The data.
        rate : float or Array
            :math:`\phi > 0` (any shape; evaluated elementwise).

        Examples
        --------
        >>> import jax.numpy as jnp
        >>> model, x = ExponentialNormal(), jnp.array([0.5, 1.5])
        >>> bounds = model.elbo(x, jnp.linspace(0.5, 5.0, 10))      # one ELBO per rate phi
        >>> bool(jnp.all(bounds < model.log_marginal(x)))           # each below log p(x)
        True
        """
        x = _checks.observations(x)
        phi = _checks.positive_entries(rate, "rate")
        lam, var = self.rate, self.noise_scale**2
        n, s1, s2 = x.shape[0], jnp.sum(x), jnp.sum(x**2)
        expected_log_prior = jnp.log(lam) - lam / phi
        expected_log_lik = (-0.5 * n * jnp.log(2 * jnp.pi * var)
                            - (s2 - 2 * s1 / phi + 2 * n / phi**2) / (2 * var))
        return expected_log_prior + expected_log_lik + 1.0 - jnp.log(phi)

    def optimal_rate(self, x):
        r"""The rate :math:`\phi^*` of :math:`q = \mathrm{Exp}(\phi)` that maximises
        :meth:`elbo`, in closed form.

        Setting :math:`d\mathcal L/du = 0` for :math:`u = 1/\phi` gives
        :math:`\frac{2N}{\sigma^2} u^2 + (\lambda - \frac{\sum_i x_i}{\sigma^2}) u - 1 = 0`,
        whose positive root is :math:`u^* = 1/\phi^*`.

        Examples
        --------
        >>> import jax.numpy as jnp
        >>> model, x = ExponentialNormal(), jnp.array([0.5, 1.5])
        >>> phi = model.optimal_rate(x)
        >>> bool(model.elbo(x, phi) > jnp.max(model.elbo(x, phi * jnp.array([0.9, 1.1]))))
        True
        """
        x = _checks.observations(x)
        var = self.noise_scale**2
        a, b = 2 * x.shape[0] / var, self.rate - jnp.sum(x) / var
        u = (-b + jnp.sqrt(b**2 + 4 * a)) / (2 * a)
        return 1.0 / u

    def sample(self, key, n):
        r"""Draw ``n`` pairs from the joint: :math:`z \sim \mathrm{Exp}(\lambda)`,
        :math:`x \mid z \sim \mathcal{N}(z, \sigma^2)`.

        Returns
        -------
        z, x : Array
            Each of shape ``(n,)``.

        Examples
        --------
        >>> import jax
        >>> z, x = ExponentialNormal().sample(jax.random.key(0), 3)
        >>> z.shape, x.shape, bool(z.min() >= 0)
        ((3,), (3,), True)
        """
        key = _checks.key(key)
        n = _checks.positive_int(n, "n")
        key_z, key_x = jax.random.split(key)
        z = jax.random.exponential(key_z, (n,)) / self.rate
        x = z + self.noise_scale * jax.random.normal(key_x, (n,))
        return z, x


@_register
@dataclass(frozen=True)
class NormalNormal:
    r"""Unknown mean of Gaussian data with known noise, Gaussian prior.

    .. math::

        \mu \sim \mathcal{N}(\mu_0, \sigma_0^2), \qquad
        x_i \mid \mu \sim \mathcal{N}(\mu, \sigma^2), \quad i = 1, \dots, N.

    Parameters
    ----------
    prior_mean : float
        :math:`\mu_0`.
    prior_scale : float
        :math:`\sigma_0 > 0`.
    noise_scale : float
        :math:`\sigma > 0`, known.
    """

    prior_mean: float = 0.0
    prior_scale: float = 1.0
    noise_scale: float = 1.0

    def __post_init__(self):
        if _checks.is_concrete(self.prior_mean):
            _checks.finite(self.prior_mean, "prior_mean")
        if _checks.is_concrete(self.prior_scale):
            _checks.positive(self.prior_scale, "prior_scale")
        if _checks.is_concrete(self.noise_scale):
            _checks.positive(self.noise_scale, "noise_scale")

    def log_prior(self, mu):
        r""":math:`\log \mathcal{N}(\mu; \mu_0, \sigma_0^2)`.

        Examples
        --------
        >>> round(float(NormalNormal().log_prior(0.0)), 4)          # -1/2 log(2 pi)
        -0.9189
        """
        return stats.norm.logpdf(_checks.array(mu, "mu"), self.prior_mean, self.prior_scale)

    def log_likelihood(self, x, mu):
        r""":math:`\sum_i \log \mathcal{N}(x_i; \mu, \sigma^2)`, one value per ``mu``.

        Examples
        --------
        >>> import jax.numpy as jnp
        >>> x = jnp.array([1.0, -1.0])
        >>> round(float(NormalNormal().log_likelihood(x, 0.0)), 4)  # 2 (-1/2 log(2 pi) - 1/2)
        -2.8379
        """
        scale = self.noise_scale
        return _sum_over_data(lambda xi, m: stats.norm.logpdf(xi, m, scale), x, mu, "mu")

    def log_joint(self, mu, x):
        r""":math:`\log p(\mu, x) = \log p(\mu) + \log p(x \mid \mu)`.

        Examples
        --------
        >>> import jax.numpy as jnp
        >>> model, x, mu = NormalNormal(), jnp.array([1.0, 2.0]), jnp.linspace(-1.0, 3.0, 5)
        >>> total = model.log_prior(mu) + model.log_likelihood(x, mu)
        >>> bool(jnp.allclose(model.log_joint(mu, x), total))
        True
        """
        return self.log_prior(mu) + self.log_likelihood(x, mu)

    def posterior(self, x):
        r"""The exact (conjugate) posterior :math:`p(\mu \mid x) = \mathcal{N}(\mu_N, \sigma_N^2)`.

        .. math::

            \frac{1}{\sigma_N^2} = \frac{1}{\sigma_0^2} + \frac{N}{\sigma^2}, \qquad
            \mu_N = \sigma_N^2 \left(\frac{\mu_0}{\sigma_0^2} + \frac{\sum_i x_i}{\sigma^2}\right)

        (Murphy 2012, §4.6.1; Bishop 2006, eq. 2.141–2.142).

        Returns
        -------
        mean, scale : Array
            :math:`\mu_N` and :math:`\sigma_N`.

        Examples
        --------
        >>> import jax.numpy as jnp
        >>> mean, scale = NormalNormal().posterior(jnp.array([1.0, 2.0, 3.0]))
        >>> float(mean), float(scale)                   # precision 1 + 3 = 4, mean 6 / 4
        (1.5, 0.5)
        """
        x = _checks.observations(x)
        precision = 1.0 / self.prior_scale**2 + x.shape[0] / self.noise_scale**2
        mean = (self.prior_mean / self.prior_scale**2
                + jnp.sum(x) / self.noise_scale**2) / precision
        return mean, 1.0 / jnp.sqrt(precision)

    def log_marginal(self, x):
        r"""The exact log evidence, from Bayes' rule at the posterior mean.

        For any :math:`\mu`, :math:`\log p(x) = \log p(x \mid \mu) + \log p(\mu)
        - \log p(\mu \mid x)`; evaluating at :math:`\mu = \mu_N` avoids the
        :math:`N \times N` covariance of :math:`x`.

        Examples
        --------
        >>> import jax.numpy as jnp
        >>> from jax.scipy.stats import multivariate_normal
        >>> x = jnp.array([1.0, 2.0])                   # x ~ N(0, I + 1 1^T) marginally
        >>> exact = multivariate_normal.logpdf(x, jnp.zeros(2), jnp.eye(2) + 1.0)
        >>> bool(jnp.isclose(NormalNormal().log_marginal(x), exact, atol=1e-5))
        True
        """
        mean, scale = self.posterior(x)
        return self.log_joint(mean, x) - stats.norm.logpdf(mean, mean, scale)

    def sample(self, key, n, mean=None):
        r"""Draw a data set of ``n`` observations.

        If ``mean`` is ``None``, first draw :math:`\mu` from the prior;
        otherwise condition on :math:`\mu` = ``mean``.

        Returns
        -------
        mu : Array
            The mean used, shape ``()``.
        x : Array
            The data, shape ``(n,)``.

        Examples
        --------
        >>> import jax
        >>> mu, x = NormalNormal().sample(jax.random.key(0), 5, mean=2.0)
        >>> float(mu), x.shape
        (2.0, (5,))
        """
        key = _checks.key(key)
        n = _checks.positive_int(n, "n")
        key_mu, key_x = jax.random.split(key)
        if mean is None:
            mu = self.prior_mean + self.prior_scale * jax.random.normal(key_mu)
        else:
            mu = jnp.asarray(_checks.finite(mean, "mean"), dtype=float)
        return mu, mu + self.noise_scale * jax.random.normal(key_x, (n,))



# --- Part IV: models without closed-form posteriors ------------------------------------------

def _vector(z, name, d=None):
    """``z`` of shape ``(..., D)`` (``D = d`` if given), checked."""
    z = _checks.array(z, name, ndim=tuple(range(1, 8)))
    if d is not None and z.shape[-1] != d:
        raise ValueError(f"{name} must have shape (..., {d}), got {z.shape}")
    return z


def _eight_schools_data(y, sigma):
    if y is None and sigma is None:
        from vibook.data import eight_schools
        y, sigma = eight_schools()
    y = _checks.data(y, "y", ndim=1)
    sigma = _checks.positive_entries(sigma, "sigma", shape=y.shape)
    return y, sigma


def _eight_schools_hyperprior(mu, log_tau):
    r""":math:`\log \mathcal{N}(\mu; 0, 5^2) + \log \mathrm{HalfCauchy}(\tau; 5) + \log\tau`."""
    tau = jnp.exp(log_tau)
    return (stats.norm.logpdf(mu, 0.0, 5.0)
            + jnp.log(2.0) + stats.cauchy.logpdf(tau, 0.0, 5.0) + log_tau)


def _eight_schools_likelihood(theta, y, sigma):
    r""":math:`\sum_j \log \mathcal{N}(y_j; \theta_j, \sigma_j^2)` for ``theta`` (..., J)."""
    lead = (1,) * (theta.ndim - 1)
    return jnp.sum(stats.norm.logpdf(y.reshape(lead + y.shape), theta,
                                     sigma.reshape(lead + sigma.shape)), axis=-1)


def eight_schools_centered(z, y=None, sigma=None):
    r"""Eight schools, centred: the unnormalised log posterior over :math:`(\mu, \log\tau, \theta)`.

    .. math::

        \mu \sim \mathcal{N}(0, 5^2), \quad \tau \sim \mathrm{HalfCauchy}(0, 5), \quad
        \theta_j \sim \mathcal{N}(\mu, \tau^2), \quad
        y_j \sim \mathcal{N}(\theta_j, \sigma_j^2)

    (Rubin 1981; Gelman et al. 2013, §5.5; the priors of the Stan and PyMC
    case studies). :math:`\tau > 0` is sampled as :math:`\log\tau`, so the
    density includes the Jacobian :math:`+\log\tau`. For small :math:`\tau`
    the :math:`\theta_j` are squeezed together: the posterior is a funnel
    (Neal 2003; Betancourt & Girolami 2015).

    Parameters
    ----------
    z : array of shape (..., J + 2)
        Coordinates: ``z[..., 0]`` is :math:`\mu`, ``z[..., 1]`` is
        :math:`\log\tau`, ``z[..., 2:]`` are :math:`\theta_1, \dots, \theta_J`.
    y, sigma : array of shape (J,), optional
        Effects and standard errors; default :func:`vibook.data.eight_schools`
        (J = 8, so D = 10).

    Returns
    -------
    Array of shape (...)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> eight_schools_centered(jnp.zeros((3, 10))).shape    # three points (mu, log tau, theta)
    (3,)
    """
    y, sigma = _eight_schools_data(y, sigma)
    z = _vector(z, "z", y.shape[0] + 2)
    mu, log_tau, theta = z[..., 0], z[..., 1], z[..., 2:]           # (...), (...), (..., J)
    prior = jnp.sum(stats.norm.logpdf(theta, mu[..., None], jnp.exp(log_tau)[..., None]), -1)
    lik = _eight_schools_likelihood(theta, y, sigma)
    return _eight_schools_hyperprior(mu, log_tau) + prior + lik


def eight_schools_noncentered(z, y=None, sigma=None):
    r"""Eight schools, non-centred: the log posterior over :math:`(\mu, \log\tau, \eta)`.

    The same model as :func:`eight_schools_centered` with
    :math:`\theta_j = \mu + \tau\eta_j`, :math:`\eta_j \sim \mathcal{N}(0, 1)`
    a priori (Papaspiliopoulos et al. 2007): the funnel is straightened,
    because the :math:`\eta_j` are a priori independent of :math:`\tau`.

    Parameters
    ----------
    z : array of shape (..., J + 2)
        Coordinates: ``z[..., 0]`` is :math:`\mu`, ``z[..., 1]`` is
        :math:`\log\tau`, ``z[..., 2:]`` are :math:`\eta_1, \dots, \eta_J`.
        :func:`eight_schools_to_centered` maps draws to :math:`(\mu, \log\tau, \theta)`.
    y, sigma : array of shape (J,), optional
        As in :func:`eight_schools_centered`.

    Returns
    -------
    Array of shape (...)

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> z = jax.random.normal(jax.random.key(0), (10,)).at[1].set(jnp.log(2.0))   # tau = 2
    >>> gap = eight_schools_noncentered(z) - eight_schools_centered(eight_schools_to_centered(z))
    >>> bool(jnp.isclose(gap, 8 * jnp.log(2.0), atol=1e-4))     # the Jacobian, J log tau
    True
    """
    y, sigma = _eight_schools_data(y, sigma)
    z = _vector(z, "z", y.shape[0] + 2)
    mu, log_tau, eta = z[..., 0], z[..., 1], z[..., 2:]             # (...), (...), (..., J)
    theta = mu[..., None] + jnp.exp(log_tau)[..., None] * eta       # (..., J)
    lik = _eight_schools_likelihood(theta, y, sigma)
    prior = jnp.sum(stats.norm.logpdf(eta), axis=-1)
    return _eight_schools_hyperprior(mu, log_tau) + prior + lik


def eight_schools_to_centered(z):
    r"""Map non-centred coordinates :math:`(\mu, \log\tau, \eta)` to centred
    :math:`(\mu, \log\tau, \theta)`, :math:`\theta_j = \mu + \tau\eta_j`.

    The map is a bijection, so draws from the non-centred posterior map to
    draws from the centred one.

    Parameters
    ----------
    z : array of shape (..., J + 2)

    Returns
    -------
    Array of shape (..., J + 2)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> z = jnp.array([1.0, jnp.log(2.0), 0.5, -1.0])      # mu = 1, tau = 2, J = 2
    >>> [round(v, 4) for v in eight_schools_to_centered(z)[2:].tolist()]   # 1 + 2 eta
    [2.0, -1.0]
    """
    z = _vector(z, "z")
    if z.shape[-1] < 3:
        raise ValueError(f"z must have shape (..., J + 2) with J >= 1 schools, got {z.shape}")
    theta = z[..., :1] + jnp.exp(z[..., 1:2]) * z[..., 2:]
    return jnp.concatenate([z[..., :2], theta], axis=-1)


def logistic_regression(w, x, y, prior_scale=1.0):
    r"""Bayesian logistic regression's log joint, :math:`\log p(w) + \sum_i \log p(y_i \mid w)`.

    .. math::

        w \sim \mathcal{N}(0, s^2 I_D), \qquad
        y_i \mid w \sim \mathrm{Bernoulli}(\mathrm{sigmoid}(x_i^\top w)),

    with :math:`\log p(y_i \mid w) = y_i\, x_i^\top w - \log(1 + e^{x_i^\top w})`
    (softplus, so no overflow). Chapter 7's model: ``x`` is the breast-cancer
    training set with a column of ones for the intercept, :math:`s = 1`.

    Parameters
    ----------
    w : array of shape (..., D)
        Weights; leading axes are evaluated independently.
    x : array of shape (N, D)
        Features.
    y : array of shape (N,)
        Labels 0 or 1.
    prior_scale : float
        :math:`s > 0`.

    Returns
    -------
    Array of shape (...)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> x, y = jnp.ones((3, 2)), jnp.array([0.0, 1.0, 1.0])
    >>> round(float(logistic_regression(jnp.zeros(2), x, y)), 4)   # -log(2 pi) - 3 log 2
    -3.9173
    """
    x = _checks.data(x, "x", ndim=2)
    y = _checks.array(y, "y", shape=(x.shape[0],))
    if _checks.is_concrete(y) and not np.all(np.isin(np.asarray(y), (0, 1))):
        raise ValueError("y must hold labels 0 or 1")
    prior_scale = _checks.positive(prior_scale, "prior_scale")
    w = _vector(w, "w", x.shape[1])
    logits = w @ x.T                                                # (..., N)
    y = y.reshape((1,) * (logits.ndim - 1) + y.shape)               # (1, ..., N)
    lik = jnp.sum(y * logits - jax.nn.softplus(logits), axis=-1)
    return jnp.sum(stats.norm.logpdf(w, 0.0, prior_scale), axis=-1) + lik
