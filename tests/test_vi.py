"""vibook.vi: autodiff VI recovers the conjugate posterior and the Exp(theta) optimum;
minibatch VI is unbiased and recovers the posterior too."""

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
                                  family=families.normal, num_samples=64)
    state, info = vi.fit(KEY, objective, families.normal.init(0.0, 1.0),
                         optax.adam(optax.cosine_decay_schedule(0.1, 2000)), 2000)
    m, s = families.normal.unpack(state.params)
    assert info.elbo.shape == (2000,)
    assert float(divergences.kl_normal(m, s, mean, scale)) < 1e-3
    # At the optimum the ELBO equals log p(x), up to Monte Carlo noise.
    assert abs(float(info.elbo[-200:].mean()) - float(model.log_marginal(data))) < 0.05


def test_fit_recovers_exponential_optimum():
    model = ExponentialNormal()
    objective = functools.partial(elbo.reparam, log_joint=lambda z: model.log_joint(z, 1.3),
                                  family=families.exponential, num_samples=256)
    state, _ = vi.fit(KEY, objective, families.exponential.init(0.5),
                      optax.adam(optax.cosine_decay_schedule(0.05, 2000)), 2000)
    theta = families.exponential.unpack(state.params)
    assert abs(float(theta) - float(model.optimal_rate(1.3))) < 1e-2


def test_step_matches_one_fit_step():
    objective = lambda key, p: -jnp.sum((p.loc - 3.0) ** 2)  # noqa: E731
    params = families.normal.init(0.0, 1.0)
    opt = optax.sgd(0.1)
    state, info = vi.step(KEY, vi.init(params, opt), objective, opt)
    np.testing.assert_allclose(state.params.loc, 0.6, rtol=1e-6)
    np.testing.assert_allclose(info.elbo, -9.0)
    fitted, fit_info = vi.fit(KEY, objective, params, opt, 1)
    np.testing.assert_allclose(fitted.params.loc, 0.6, rtol=1e-6)
    np.testing.assert_allclose(fit_info.elbo, [-9.0])


@pytest.mark.float32   # the divergence is a float32 overflow
def test_diverging_fit_names_the_step():
    # Gradient ascent on -loc^2 with a step of 10 overshoots by a factor 19 per step.
    objective = lambda key, p: -jnp.sum(p.loc**2)  # noqa: E731
    with pytest.raises(FloatingPointError, match=r"vibook.vi.fit diverged: .* at step \d+"):
        vi.fit(KEY, objective, families.normal.init(1.0, 1.0), optax.sgd(10.0), 100)


def test_objective_checked_once():
    params = families.normal.init(0.0, 1.0)
    with pytest.raises(ValueError, match="objective must return a scalar"):
        vi.fit(KEY, lambda key, p: p.loc * jnp.ones(3), params, optax.sgd(0.1), 5)
    with pytest.raises(ValueError, match="objective returned nan"):
        vi.fit(KEY, lambda key, p: jnp.log(p.loc - 1.0), params, optax.sgd(0.1), 5)


# --- minibatches --------------------------------------------------------------------------------

def _regression_problem():
    k1, k2 = jax.random.split(jax.random.key(5))
    x = jax.random.normal(k1, (120, 3))
    y = (jax.random.uniform(k2, (120,)) < jax.nn.sigmoid(x @ jnp.array([1.0, -2.0, 0.5]))) * 1.0

    def log_prior(w):
        return jnp.sum(jax.scipy.stats.norm.logpdf(w))

    def log_lik(w, batch):
        xb, yb = batch
        logits = xb @ w
        return yb * logits - jax.nn.softplus(logits)

    return (x, y), log_prior, log_lik


def test_minibatch_elbo_rescaling_is_unbiased():
    data, log_prior, log_lik = _regression_problem()
    params = families.normal.init(jnp.array([0.5, -1.0, 0.2]), jnp.array([0.3, 0.5, 0.4]))
    key = jax.random.key(6)               # the same z samples for every estimate
    estimate = functools.partial(vi.minibatch_elbo, key, params, log_prior=log_prior,
                                 log_lik=log_lik, family=families.normal, num_data=120,
                                 num_samples=8)
    full = float(estimate(data))
    # With the whole data set it is the plain reparameterised ELBO (entropy in closed form).
    joint = lambda w: log_prior(w) + jnp.sum(log_lik(w, data))        # one draw
    plain = elbo.reparam_entropy(key, params, joint, families.normal, 8)
    assert full == pytest.approx(float(plain), rel=1e-5)
    # Exactly: the mean over a partition into equal minibatches.
    parts = [estimate(jax.tree.map(lambda a: a[i:i + 20], data)) for i in range(0, 120, 20)]
    assert float(np.mean(parts)) == pytest.approx(full, rel=1e-5)
    # In expectation: the mean over many uniformly random minibatches.
    idx = jax.vmap(lambda k: jax.random.choice(k, 120, (20,), replace=False))(
        jax.random.split(jax.random.key(7), 4000))
    estimates = jax.vmap(lambda i: estimate(jax.tree.map(lambda a: a[i], data)))(idx)
    sem = float(jnp.std(estimates)) / np.sqrt(len(estimates))
    assert abs(float(jnp.mean(estimates)) - full) < 4 * sem


def test_minibatch_fit_recovers_a_conjugate_posterior():
    x = 4.0 + 2.0 * jax.random.normal(jax.random.key(8), (400,))
    model = NormalNormal(prior_mean=4.2, prior_scale=0.3, noise_scale=2.0)
    mean, scale = model.posterior(x)

    def log_prior(mu):
        return jax.scipy.stats.norm.logpdf(mu[0], 4.2, 0.3)

    def log_lik(mu, xb):
        return jax.scipy.stats.norm.logpdf(xb, mu[0], 2.0)

    objective = functools.partial(vi.minibatch_elbo, log_prior=log_prior, log_lik=log_lik,
                                  family=families.normal, num_data=400, num_samples=4)
    params = families.normal.init(jnp.zeros(1), jnp.ones(1))
    opt = optax.adam(optax.exponential_decay(0.05, 2000, 0.3))
    state, info = vi.minibatch_fit(jax.random.key(9), objective, params, opt, x, 200, 20)
    loc, sd = families.normal.unpack(state.params)
    assert info.elbo.shape == (200 * 20,)
    assert float(loc[0]) == pytest.approx(float(mean), abs=0.02)
    assert float(sd[0]) == pytest.approx(float(scale), rel=0.1)
    # The last epochs' estimates scatter around log p(x) (q is nearly exact).
    assert abs(float(info.elbo[-400:].mean()) - float(model.log_marginal(x))) < 0.5


def test_minibatch_fit_with_the_whole_batch_is_fit():
    data, log_prior, log_lik = _regression_problem()
    start = families.normal.init(jnp.zeros(3), 1.0)
    opt = optax.adam(0.05)
    minibatch = functools.partial(vi.minibatch_elbo, log_prior=log_prior, log_lik=log_lik,
                                  family=families.normal, num_data=120)
    state, info = vi.minibatch_fit(KEY, minibatch, start, opt, data, 10, 120)
    # One minibatch per epoch: the order of the points changes, nothing else.
    k_samples = [jax.random.split(jax.random.split(k)[1], 1)[0]
                 for k in jax.random.split(KEY, 10)]

    def full(key, params):
        return minibatch(key, params, data)

    s = vi.init(start, opt)
    for k in k_samples:
        s, _ = vi.step(k, s, full, opt)
    np.testing.assert_allclose(state.params.loc, s.params.loc, rtol=1e-4, atol=1e-5)
    assert info.elbo.shape == (10,)


def test_log_lik_must_return_one_value_per_example():
    data, log_prior, _ = _regression_problem()
    params = families.normal.init(jnp.zeros(3), 1.0)
    with pytest.raises(ValueError, match=r"log_lik\(z, batch\) must return shape \(120,\)"):
        vi.minibatch_elbo(KEY, params, data, log_prior, lambda w, b: jnp.sum(b[0] @ w),
                          families.normal, 120)


# --- issue 21: the opt-in convergence report ---------------------------------------------------

def _quadratic_fit(num_steps, **kwargs):
    objective = lambda key, p: -jnp.sum((p.loc - 1.0) ** 2)              # noqa: E731
    return vi.fit(KEY, objective, families.normal.init(0.0, 1.0), optax.sgd(1e-3), num_steps,
                  **kwargs)


def test_converged_reports_a_still_rising_elbo_and_check_convergence_warns_with_the_remedy():
    _, info = _quadratic_fit(200)                  # lr 1e-3: still climbing after 200 steps
    report = vi.converged(info)
    assert not report.converged and report.change > 0
    with pytest.warns(vi.NotConvergedWarning, match="run more steps|Run more steps") as record:
        _quadratic_fit(200, check_convergence=True)
    message = str(record[0].message)
    assert "optimize.find_mode" in message and "learning rate" in message


def test_check_convergence_is_off_by_default_and_changes_no_output(recwarn):
    state0, info0 = _quadratic_fit(50)
    state1, info1 = _quadratic_fit(50, check_convergence={"window": 10, "tol": 10.0})
    assert not [w for w in recwarn if issubclass(w.category, vi.NotConvergedWarning)]
    np.testing.assert_array_equal(info0.elbo, info1.elbo)
    np.testing.assert_array_equal(state0.params.loc, state1.params.loc)


def test_a_converged_fit_does_not_warn(recwarn):
    objective = lambda key, p: -jnp.sum((p.loc - 1.0) ** 2)              # noqa: E731
    vi.fit(KEY, objective, families.normal.init(0.0, 1.0), optax.adam(0.1), 300,
           check_convergence=True)
    assert not [w for w in recwarn if issubclass(w.category, vi.NotConvergedWarning)]


def test_step_refuses_an_optimizer_other_than_the_states():
    params = families.normal.init(jnp.zeros(2), 1.0)
    state = vi.init(params, optax.adam(0.1))
    objective = lambda key, p: -jnp.sum(p.loc**2)                         # noqa: E731
    vi.step(KEY, state, objective, optax.adam(0.3))     # same state structure: accepted
    with pytest.raises(ValueError, match="optimizer does not match"):
        vi.step(KEY, state, objective, optax.sgd(0.1, momentum=0.9))
