"""vibook.vi: autodiff VI recovers the conjugate posterior and the Exp(theta) optimum."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vibook import divergences, elbo, families, vi
from vibook.models import ExponentialNormal, NormalNormal

KEY = jax.random.key(0)


def test_fit_recovers_conjugate_posterior():
    model = NormalNormal(prior_mean=4.2, prior_scale=0.3, noise_scale=2.0)
    _, data = model.sample(jax.random.key(1), 100, mean=4.0)
    data = np.asarray(data)
    mean, scale = model.posterior(data)
    objective = functools.partial(elbo.reparam_entropy, log_joint=lambda mu: model.log_joint(mu, data),
                                  family=families.normal, n=64)
    params, trace = vi.fit(KEY, objective, families.normal.init(0.0, 1.0),
                           optax.adam(optax.cosine_decay_schedule(0.1, 2000)), 2000)
    m, s = families.normal.unpack(params)
    assert trace.shape == (2000,)
    assert float(divergences.kl_normal(m, s, mean, scale)) < 1e-3
    # At the optimum the ELBO equals log p(x), up to Monte Carlo noise.
    assert abs(float(trace[-200:].mean()) - float(model.log_marginal(data))) < 0.05


def test_fit_recovers_exponential_optimum():
    model = ExponentialNormal()
    objective = functools.partial(elbo.reparam, log_joint=lambda z: model.log_joint(z, 1.3),
                                  family=families.exponential, n=256)
    params, _ = vi.fit(KEY, objective, families.exponential.init(0.5),
                       optax.adam(optax.cosine_decay_schedule(0.05, 2000)), 2000)
    theta = families.exponential.unpack(params)
    assert abs(float(theta) - float(elbo.exponential_normal_optimal_rate(model, 1.3))) < 1e-2


def test_step_matches_one_fit_step():
    objective = lambda key, p: -jnp.sum((p.loc - 3.0) ** 2)  # noqa: E731
    params = families.normal.init(0.0, 1.0)
    opt = optax.sgd(0.1)
    state, value = vi.step(KEY, vi.init(params, opt), objective, opt)
    np.testing.assert_allclose(state.params.loc, 0.6, rtol=1e-6)
    np.testing.assert_allclose(value, -9.0)
    fitted, trace = vi.fit(KEY, objective, params, opt, 1)
    np.testing.assert_allclose(fitted.loc, 0.6, rtol=1e-6)


def test_bad_input():
    params = families.normal.init(0.0, 1.0)
    objective = lambda key, p: -jnp.sum(p.loc**2)  # noqa: E731
    with pytest.raises(TypeError, match="key"):
        vi.fit(1, objective, params, optax.adam(0.1), 10)
    with pytest.raises(ValueError, match="num_steps"):
        vi.fit(KEY, objective, params, optax.adam(0.1), 0)
    with pytest.raises(TypeError, match="optimizer"):
        vi.fit(KEY, objective, params, "adam", 10)
    with pytest.raises(TypeError, match="objective"):
        vi.fit(KEY, None, params, optax.adam(0.1), 10)
    with pytest.raises(ValueError, match="params"):
        vi.init(params._replace(loc=jnp.nan), optax.adam(0.1))
    with pytest.raises(TypeError, match="state"):
        vi.step(KEY, params, objective, optax.adam(0.1))
