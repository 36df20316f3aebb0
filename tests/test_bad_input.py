"""Bad input to any public function raises a TypeError/ValueError naming the argument.

One list of cases covers the public surface listed in appendix/api.md: each
case is ``Case(id, call, error, match)`` where ``id`` starts with the
function's name as ``module.name`` (e.g. ``"elbo.reparam: key batch"``),
``call`` takes no arguments and must raise ``error`` with ``match`` (a
regular expression, usually the argument's name) in its message.
:func:`test_every_public_function_has_a_case` checks the coverage.
"""

import inspect
import pathlib
import re
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

KEY = jax.random.key(0)
KEYS = jax.random.split(KEY)          # a batch of keys, the commonest slip
NAN = float("nan")


class Case(NamedTuple):
    id: str                 # "module.name: what is wrong"
    call: Callable[[], object]
    error: type
    match: str              # regex the message must contain (the argument's name)


# --- H2: models, data, report, plotting, device, families, elbo, marginal, divergences,
#     diagnostics, mcmc, flows, targets ---
def _h2_cases():
    from vibook import (data, device, diagnostics, divergences, elbo, families, flows,
                        marginal, mcmc, models, plotting, report, targets)

    V, T = ValueError, TypeError
    x = jnp.array([0.4, 2.0, 1.1])
    ex, nn = models.ExponentialNormal(), models.NormalNormal()
    exp_params, nrm = families.exponential.init(1.0), families.normal
    n_params = nrm.init(jnp.zeros(2), 1.0)
    fr = families.full_rank_normal
    fr_params = fr.init(jnp.zeros(2))
    log_joint = lambda z: ex.log_joint(z, x)                            # noqa: E731
    per_dim = lambda z: jnp.stack([z, -z])                              # two values for one draw
    batched = lambda z: z[:, 0]                                         # the old batched convention
    nan_out = lambda z: jnp.full(z.shape[:1], NAN)                      # noqa: E731
    normal2 = lambda z: -0.5 * jnp.sum(z**2, axis=-1)                   # noqa: E731
    grid = jnp.linspace(-6.0, 6.0, 101)
    log_w = jax.random.normal(KEY, (100,))
    prior = lambda key, n: jax.random.normal(key, (n,))                 # noqa: E731
    g2 = targets.grid(((-3.0, 3.0), (-3.0, 3.0)), 11)
    coupling = flows.coupling(2, 2, 4)
    c_params = coupling.init(KEY)
    net = jax.tree_util.tree_map(lambda a: a[0], c_params.layers)
    mask = flows.coupling_masks(2, 2)[0]
    draws = jax.random.normal(KEY, (2, 10, 1))
    yy, sigma = data.eight_schools()
    cases = [
        # models
        Case("models.ExponentialNormal: rate < 0", lambda: models.ExponentialNormal(rate=-1.0), V, "rate"),
        Case("models.ExponentialNormal.log_prior: z a string", lambda: ex.log_prior("1"), T, "z"),
        Case("models.ExponentialNormal.log_likelihood: NaN in x", lambda: ex.log_likelihood([1.0, NAN], 1.0), V, "x"),
        Case("models.ExponentialNormal.log_joint: NaN z", lambda: ex.log_joint(NAN, x), V, "z"),
        Case("models.ExponentialNormal.log_marginal: no data", lambda: ex.log_marginal([]), V, "x"),
        Case("models.ExponentialNormal.log_posterior: 2-D x", lambda: ex.log_posterior(1.0, jnp.ones((2, 2))), V, "x"),
        Case("models.ExponentialNormal.elbo: rate 0", lambda: ex.elbo(x, 0.0), V, "rate"),
        Case("models.ExponentialNormal.optimal_rate: inf in x", lambda: ex.optimal_rate([1.0, np.inf]), V, "x"),
        Case("models.ExponentialNormal.sample: key batch", lambda: ex.sample(KEYS, 3), T, "single key"),
        Case("models.NormalNormal: prior_scale 0", lambda: models.NormalNormal(prior_scale=0.0), V, "prior_scale"),
        Case("models.NormalNormal.log_prior: mu a string", lambda: nn.log_prior("0"), T, "mu"),
        Case("models.NormalNormal.log_likelihood: inf in x", lambda: nn.log_likelihood([np.inf], 0.0), V, "x"),
        Case("models.NormalNormal.log_joint: x None", lambda: nn.log_joint(0.0, None), T, "x"),
        Case("models.NormalNormal.posterior: NaN in x", lambda: nn.posterior([NAN]), V, "x"),
        Case("models.NormalNormal.log_marginal: 2-D x", lambda: nn.log_marginal(jnp.ones((2, 2))), V, "x"),
        Case("models.NormalNormal.sample: n = 0", lambda: nn.sample(KEY, 0), V, "n"),
        Case("models.NormalNormal.sample: NaN mean", lambda: nn.sample(KEY, 3, mean=NAN), V, "mean"),
        Case("models.eight_schools_centered: 9 coordinates", lambda: models.eight_schools_centered(jnp.zeros(9)), V, "z"),
        Case("models.eight_schools_noncentered: sigma < 0", lambda: models.eight_schools_noncentered(jnp.zeros(10), yy, -sigma), V, "sigma"),
        Case("models.eight_schools_to_centered: too short", lambda: models.eight_schools_to_centered(jnp.zeros(2)), V, "z"),
        Case("models.logistic_regression: labels 2", lambda: models.logistic_regression(jnp.zeros(2), jnp.ones((3, 2)), jnp.array([0.0, 1.0, 2.0])), V, "y"),
        Case("models.logistic_regression: w of the wrong size", lambda: models.logistic_regression(jnp.zeros(3), jnp.ones((3, 2)), jnp.zeros(3)), V, "w"),
        # data
        Case("data.standardize: a constant column", lambda: data.standardize(jnp.ones((4, 2))), V, "x"),
        Case("data.digits: test_fraction 1.5", lambda: data.digits(KEY, 1.5), V, "test_fraction"),
        Case("data.breast_cancer: key batch", lambda: data.breast_cancer(KEYS), T, "key"),
        Case("data.synthetic_mixture: weights sum to 1.2", lambda: data.synthetic_mixture(KEY, 10, jnp.zeros((2, 1)), weights=[0.6, 0.6]), V, "weights"),
        Case("data.synthetic_mixture: scales < 0", lambda: data.synthetic_mixture(KEY, 10, jnp.zeros((2, 1)), scales=-1.0), V, "scales"),
        Case("data.minibatches: batch_size > n", lambda: data.minibatches(KEY, 10, 11), V, "batch_size"),
        Case("data.minibatches: batch_size 0", lambda: data.minibatches(KEY, 10, 0), V, "batch_size"),
        # report, plotting, device
        Case("report.fmt: a string", lambda: report.fmt("1.5", 3), T, "value"),
        Case("report.fmt: digits 0", lambda: report.fmt(1.5, 0), V, "digits"),
        Case("report.show: an array", lambda: report.show(glue=False, theta=[1.0, 2.0]), T, "theta"),
        Case("plotting.subplots: ncols 0", lambda: plotting.subplots(ncols=0), V, "ncols"),
        Case("plotting.subplots: width < 0", lambda: plotting.subplots(width=-1.0), V, "width"),
        Case("device.setup: cache a string", lambda: device.setup(cache="no"), T, "cache"),
        Case("device.enable_compilation_cache: folder a number", lambda: device.enable_compilation_cache(3), T, "folder"),
        # families
        Case("families.inverse_softplus: y <= 0", lambda: families.inverse_softplus(-1.0), V, "y"),
        Case("families.normal.init: scale < 0", lambda: nrm.init(0.0, -1.0), V, "scale"),
        Case("families.normal.sample: key batch", lambda: nrm.sample(KEYS, n_params, 3), T, "single key"),
        Case("families.normal.log_prob: NaN z", lambda: nrm.log_prob(n_params, jnp.array([NAN, 0.0])), V, "z"),
        Case("families.normal.entropy: a tuple", lambda: nrm.entropy((0.0, 1.0)), T, "params"),
        Case("families.normal.unpack: mismatched shapes", lambda: nrm.unpack(families.NormalParams(jnp.zeros(2), jnp.zeros(3))), V, "params"),
        Case("families.normal.unpack: NaN parameter", lambda: nrm.unpack(n_params._replace(loc=jnp.array([NAN, 0.0]))), V, "params.loc"),
        Case("families.full_rank_normal.init: a covariance, not L", lambda: fr.init(jnp.zeros(2), jnp.array([[1.0, 0.5], [0.5, 1.0]])), V, "scale_tril"),
        Case("families.full_rank_normal.sample: num_samples = 0", lambda: fr.sample(KEY, fr_params, 0), V, "num_samples"),
        Case("families.full_rank_normal.log_prob: wrong z", lambda: fr.log_prob(fr_params, jnp.zeros(3)), V, "z"),
        Case("families.full_rank_normal.entropy: normal params", lambda: fr.entropy(n_params), T, "params"),
        Case("families.full_rank_normal.unpack: wrong raw_tril", lambda: fr.unpack(families.FullRankParams(jnp.zeros(2), jnp.eye(3))), V, "params"),
        Case("families.exponential.init: rate 0", lambda: families.exponential.init(0.0), V, "rate"),
        Case("families.exponential.sample: key an int", lambda: families.exponential.sample(0, exp_params, 3), T, "key"),
        Case("families.exponential.log_prob: NaN rate", lambda: families.exponential.log_prob(families.ExponentialParams(jnp.array(NAN)), 1.0), V, "params.raw_rate"),
        Case("families.exponential.entropy: normal params", lambda: families.exponential.entropy(n_params), T, "params"),
        Case("families.exponential.unpack: a float", lambda: families.exponential.unpack(1.0), T, "params"),
        # elbo
        Case("elbo.reparam: key batch", lambda: elbo.reparam(KEYS, exp_params, log_joint, families.exponential), T, "key must be a single key"),
        Case("elbo.reparam: family a string", lambda: elbo.reparam(KEY, exp_params, log_joint, "exponential"), T, "family must be a vibook.families.Family"),
        Case("elbo.reparam: family the module", lambda: elbo.reparam(KEY, exp_params, log_joint, families), T, "family"),
        Case("elbo.reparam: log_joint returns a vector per draw", lambda: elbo.reparam(KEY, exp_params, per_dim, families.exponential, num_samples=8), V, r"log_joint must take ONE draw .* returned shape \(2,\)"),
        Case("elbo.reparam: log_joint written for a batch of draws", lambda: elbo.reparam(KEY, n_params, batched, families.normal, num_samples=8), T, r"log_joint must take ONE draw z \(here of shape \(2,\)\)"),
        Case("elbo.reparam: log_joint of a dict, loc an array", lambda: elbo.reparam(KEY, n_params, lambda z: z["a"], families.normal, num_samples=8), T, "log_joint must take ONE draw"),
        Case("families.normal.init: scale dict with other keys", lambda: families.normal.init({"a": 0.0}, {"b": 1.0}), V, "scale must be a scalar or a dict with loc's keys"),
        Case("families.normal.init: empty dict", lambda: families.normal.init({}, 1.0), V, "loc must not be an empty dict"),
        Case("families.normal.log_prob: z an array, loc a dict", lambda: families.normal.log_prob(families.normal.init({"a": 0.0}, 1.0), jnp.zeros(3)), V, "z must be a dict with loc's keys"),
        Case("families.full_rank_normal.init: dict loc, wrong scale_tril", lambda: families.full_rank_normal.init({"a": jnp.zeros(2)}, jnp.eye(3)), V, "scale_tril"),
        Case("elbo.reparam: log_joint returns NaN", lambda: elbo.reparam(KEY, exp_params, nan_out, families.exponential, num_samples=8), V, "log_joint returned NaN"),
        Case("elbo.reparam: num_samples = 0", lambda: elbo.reparam(KEY, exp_params, log_joint, families.exponential, num_samples=0), V, "num_samples"),
        Case("elbo.reparam: NaN params", lambda: elbo.reparam(KEY, families.ExponentialParams(jnp.array(NAN)), log_joint, families.exponential), V, "params"),
        Case("elbo.reparam_entropy: log_joint per dimension", lambda: elbo.reparam_entropy(KEY, exp_params, per_dim, families.exponential, num_samples=4), V, "log_joint"),
        Case("elbo.reparam_kl: kl_to_prior per draw", lambda: elbo.reparam_kl(KEY, exp_params, log_joint, lambda p: jnp.zeros(4), families.exponential, num_samples=4), V, "kl_to_prior"),
        Case("elbo.reparam_kl: log_likelihood not callable", lambda: elbo.reparam_kl(KEY, exp_params, 1.0, lambda p: 0.0, families.exponential), T, "log_likelihood"),
        Case("elbo.score_function: unknown baseline", lambda: elbo.score_function(KEY, exp_params, log_joint, families.exponential, num_samples=4, baseline="median"), V, "baseline"),
        Case("elbo.score_function: family the module", lambda: elbo.score_function(KEY, exp_params, log_joint, families), T, "family"),
        Case("elbo.importance_weighted: num_samples = 0", lambda: elbo.importance_weighted(KEY, exp_params, log_joint, families.exponential, 0), V, "num_samples"),
        Case("elbo.renyi: NaN alpha", lambda: elbo.renyi(KEY, exp_params, log_joint, families.exponential, NAN), V, "alpha"),
        # marginal
        Case("marginal.trapezoid_weights: decreasing grid", lambda: marginal.trapezoid_weights(grid[::-1]), V, "grid"),
        Case("marginal.trapezoid: log_f returns two values per point", lambda: marginal.trapezoid(lambda z: jnp.stack([-z**2, z]), grid), V, "log_f must take ONE draw"),
        Case("marginal.trapezoid: log_f written for the whole grid", lambda: marginal.trapezoid(lambda z: -z[1:] ** 2, grid), T, "log_f must take ONE draw"),
        Case("marginal.trapezoid: grid too narrow", lambda: marginal.trapezoid(lambda z: -0.5 * z**2, jnp.linspace(-1, 1, 11)), V, "grid"),
        Case("marginal.from_log_weights: NaN", lambda: marginal.from_log_weights(log_w.at[3].set(NAN)), V, "log_w"),
        Case("marginal.from_log_weights: a string", lambda: marginal.from_log_weights("w"), T, "log_w"),
        Case("marginal.importance_sampling: key batch", lambda: marginal.importance_sampling(KEYS, normal2, prior, normal2, 10), T, "key"),
        Case("marginal.importance_sampling: log_joint per dimension", lambda: marginal.importance_sampling(KEY, lambda z: jnp.stack([-z**2, z]), prior, lambda z: -z**2, 10), V, "log_joint must take ONE draw"),
        Case("marginal.importance_sampling: too few draws", lambda: marginal.importance_sampling(KEY, lambda z: -z**2, lambda k, n: jnp.zeros(3), lambda z: -z**2, 10), V, "sample_proposal"),
        Case("marginal.naive_monte_carlo: NaN likelihood", lambda: marginal.naive_monte_carlo(KEY, nan_out, prior, 10), V, "log_likelihood returned NaN"),
        Case("marginal.naive_monte_carlo: num_samples = 1", lambda: marginal.naive_monte_carlo(KEY, lambda z: -z**2, prior, 1), V, "num_samples"),
        # divergences
        Case("divergences.kl_normal: scale 0", lambda: divergences.kl_normal(0.0, 1.0, 0.0, 0.0), V, "scale_q"),
        Case("divergences.kl_normal: shapes differ", lambda: divergences.kl_normal(jnp.zeros(2), 1.0, 0.0, 1.0), V, "shape"),
        Case("divergences.kl_exponential: rate < 0", lambda: divergences.kl_exponential(-1.0, 1.0), V, "rate_p"),
        Case("divergences.kl_monte_carlo: log_p per dimension", lambda: divergences.kl_monte_carlo(KEY, prior, lambda z: jnp.stack([-z**2, z]), lambda z: -z**2, 10), V, "log_p must take ONE draw"),
        Case("divergences.kl_monte_carlo: num_samples = 1", lambda: divergences.kl_monte_carlo(KEY, prior, normal2, normal2, 1), V, "num_samples"),
        Case("divergences.kl_grid: NaN log_p", lambda: divergences.kl_grid(jnp.full(101, NAN), -grid**2, grid), V, "log_p"),
        Case("divergences.kl_grid: log_q off the grid", lambda: divergences.kl_grid(-grid**2, jnp.zeros(5), grid), V, "log_q"),
        # diagnostics
        Case("diagnostics.tail_length: 0 draws", lambda: diagnostics.tail_length(0), V, "num_draws"),
        Case("diagnostics.khat_threshold: 5 draws", lambda: diagnostics.khat_threshold(5), V, "num_draws"),
        Case("diagnostics.gpd_fit: unsorted", lambda: diagnostics.gpd_fit(jnp.array([3.0, 1.0, 2.0, 5.0, 4.0])), V, "x"),
        Case("diagnostics.gpd_quantile: p = 1.5", lambda: diagnostics.gpd_quantile(1.5, 0.3, 1.0), V, "p"),
        Case("diagnostics.gpd_quantile: sigma < 0", lambda: diagnostics.gpd_quantile(0.5, 0.3, -1.0), V, "sigma"),
        Case("diagnostics.psis: NaN", lambda: diagnostics.psis(log_w.at[0].set(NAN)), V, "log_weights"),
        Case("diagnostics.psis: 2-D", lambda: diagnostics.psis(jnp.zeros((10, 10))), V, "log_weights"),
        Case("diagnostics.psis_expectation: rows differ", lambda: diagnostics.psis_expectation(log_w, jnp.zeros(50)), V, "values"),
        Case("diagnostics.sbc_ranks: draws for other data sets", lambda: diagnostics.sbc_ranks(jnp.zeros(3), jnp.zeros((4, 10))), V, "draws"),
        # mcmc
        Case("mcmc.nuts: key batch", lambda: mcmc.nuts(KEYS, normal2, jnp.zeros(2), 10, 10), T, "key"),
        Case("mcmc.nuts: log_density per coordinate", lambda: mcmc.nuts(KEY, lambda z: -z**2, jnp.zeros(2), 10, 10), V, "log_density"),
        Case("mcmc.nuts: start outside the support", lambda: mcmc.nuts(KEY, lambda z: jnp.sum(jnp.log(z)), jnp.zeros(2), 10, 10), V, "init_position"),
        Case("mcmc.nuts: num_warmup 0", lambda: mcmc.nuts(KEY, normal2, jnp.zeros(2), 0, 10), V, "num_warmup"),
        Case("mcmc.rhat: one chain, 2-D", lambda: mcmc.rhat(jnp.zeros((10, 1))), V, "draws"),
        Case("mcmc.ess: one chain", lambda: mcmc.ess(draws[:1]), V, "draws"),
        # flows
        Case("flows.coupling_layer: net of another size", lambda: flows.coupling_layer(net, jnp.ones(3), jnp.zeros(3)), V, "net"),
        Case("flows.coupling_layer: mask not 0/1", lambda: flows.coupling_layer(net, jnp.array([0.5, 1.0]), jnp.zeros(2)), V, "mask"),
        Case("flows.coupling_layer: a batch of x", lambda: flows.coupling_layer(net, mask, jnp.zeros((4, 2))), V, "x"),
        Case("flows.coupling_inverse: NaN y", lambda: flows.coupling_inverse(net, mask, jnp.array([NAN, 0.0])), V, "y"),
        Case("flows.coupling_masks: dim 0", lambda: flows.coupling_masks(0, 2), V, "dim"),
        Case("flows.planar: num_layers 0", lambda: flows.planar(2, 0), V, "num_layers"),
        Case("flows.coupling: dim 1", lambda: flows.coupling(1, 2, 4), V, "dim"),
        Case("flows.coupling: hidden 2.5", lambda: flows.coupling(2, 2, 2.5), T, "hidden"),
        Case("flows.iaf: hidden 0", lambda: flows.iaf(2, 2, 0), V, "hidden"),
        Case("flows.coupling(...).init: scale < 0", lambda: coupling.init(KEY, 0.0, -1.0), V, "scale"),
        Case("flows.coupling(...).log_prob: NaN params", lambda: coupling.log_prob(c_params._replace(loc=jnp.array([NAN, 0.0])), jnp.zeros(2)), V, "params"),
        Case("flows.coupling(...).sample: key batch", lambda: coupling.sample(KEYS, c_params, 2), T, "key"),
        # targets
        Case("targets.banana: scale < 0", lambda: targets.banana(scale=-1.0), V, "scale"),
        Case("targets.funnel: scale 0", lambda: targets.funnel(0.0), V, "scale"),
        Case("targets.mixture: weight 1.5", lambda: targets.mixture(weight=1.5), V, "weight"),
        Case("targets.grid: hi < lo", lambda: targets.grid(((1.0, -1.0), (0.0, 1.0))), V, "limits"),
        Case("targets.grid: limits a string", lambda: targets.grid("box"), T, "limits"),
        Case("targets.grid: num 1", lambda: targets.grid(((0.0, 1.0), (0.0, 1.0)), 1), V, "num"),
        Case("targets.log_integral: grid a tuple", lambda: targets.log_integral(jnp.zeros((11, 11)), tuple(g2)), T, "grid"),
        Case("targets.log_integral: values off the grid", lambda: targets.log_integral(jnp.zeros(11), g2), V, "log_values"),
        Case("targets.kl: NaN log_q", lambda: targets.kl(jnp.full((11, 11), NAN), jnp.zeros((11, 11)), g2), V, "log_q"),
    ]
    # Under jax.jit the values are checked on the device: the reader sees JAX's runtime
    # error whose message ends with the ValueError naming the argument.
    Runtime = jax.errors.JaxRuntimeError
    jitted = jax.jit(lambda p: elbo.reparam(KEY, p, nan_out, families.exponential, num_samples=8))
    cases += [
        Case("elbo.reparam: under jit, log_joint returns NaN", lambda: jitted(exp_params), Runtime, "ValueError: log_joint returned NaN"),
        Case("families.normal.log_prob: under jit, NaN z", lambda: jax.jit(nrm.log_prob)(n_params, jnp.array([NAN, 0.0])), Runtime, "ValueError: z must not contain NaN"),
        Case("marginal.from_log_weights: under jit, NaN", lambda: jax.jit(marginal.from_log_weights)(log_w.at[3].set(NAN)), Runtime, "ValueError: log_w must not contain NaN"),
        Case("diagnostics.psis: under vmap and jit, NaN", lambda: jax.jit(jax.vmap(diagnostics.psis))(jnp.stack([log_w, log_w.at[0].set(NAN)])), Runtime, "ValueError: log_weights must not contain NaN"),
    ]
    return cases


CASES = _h2_cases()


# --- H1a: em, mixture, normal_gamma, gaussian, vbgmm ---
def _h1a_cases():
    from vibook import em, gaussian, mixture, normal_gamma, vbgmm

    x = jnp.array([[-2.0, 0.1], [-1.8, -0.2], [-2.2, 0.3], [2.0, 0.0], [1.9, 0.4], [2.3, -0.1]])
    x_nan = x.at[0, 0].set(NAN)
    gmm = em.GMMParams(jnp.array([0.5, 0.5]), jnp.array([[-2.0, 0.0], [2.0, 0.0]]),
                       jnp.stack([jnp.eye(2), jnp.eye(2)]))
    resp = jnp.repeat(jnp.array([[0.9, 0.1]]), 6, axis=0)                  # (6, 2)
    em_state = em.init(x, gmm)
    mix_state = mixture.init(KEY, x, 2, 1.0)
    ng_prior = normal_gamma.NormalGamma(0.0, 1.0, 1.0, 1.0)
    x1 = x[:, 0]
    ng_state = normal_gamma.init(x1, ng_prior)
    mean, precision = jnp.zeros(2), jnp.array([[2.0, 0.5], [0.5, 1.0]])
    not_pd, not_sym = jnp.array([[1.0, 2.0], [2.0, 1.0]]), jnp.array([[1.0, 0.5], [0.0, 1.0]])
    g_state = gaussian.init(mean, precision, mean)
    vb_prior = vbgmm.VBGMMPrior(1.0, 1.0, jnp.zeros(2), 2.0, jnp.eye(2))
    vb_state = vbgmm.init(KEY, x, 2, vb_prior)
    V, T = ValueError, TypeError
    return [
        # em
        Case("em.log_joint: NaN in x", lambda: em.log_joint(x_nan, gmm), V, "x must not contain NaN"),
        Case("em.log_joint: params a tuple", lambda: em.log_joint(x, tuple(gmm)), T, "params must be a GMMParams"),
        Case("em.log_joint: weights sum to 1.4", lambda: em.log_joint(x, gmm._replace(weights=jnp.array([0.7, 0.7]))), V, "params.weights"),
        Case("em.log_joint: a zero weight", lambda: em.log_joint(x, gmm._replace(weights=jnp.array([1.0, 0.0]))), V, "params.weights"),
        Case("em.log_joint: covs not PD", lambda: em.log_joint(x, gmm._replace(covs=jnp.stack([jnp.eye(2), -jnp.eye(2)]))), V, "params.covs must be positive definite"),
        Case("em.log_joint: covs not symmetric", lambda: em.log_joint(x, gmm._replace(covs=jnp.stack([not_sym, not_sym]))), V, "params.covs must be symmetric"),
        Case("em.log_joint: means of the wrong D", lambda: em.log_joint(x[:, :1], gmm), V, "params.means"),
        Case("em.log_joint: K > N", lambda: em.log_joint(x[:1], gmm), V, "more than the N = 1"),
        Case("em.log_likelihood: x a string", lambda: em.log_likelihood("x", gmm), T, "x must be an array"),
        Case("em.responsibilities: x 1-D", lambda: em.responsibilities(x[:, 0], gmm), V, "x must have 2"),
        Case("em.elbo: resp rows sum to 2", lambda: em.elbo(x, gmm, 2 * resp), V, "resp must sum to one"),
        Case("em.elbo: resp of the wrong N", lambda: em.elbo(x, gmm, resp[:3]), V, "resp must have shape"),
        Case("em.elbo: resp negative", lambda: em.elbo(x, gmm, resp.at[0].set(jnp.array([1.5, -0.5]))), V, "resp must be nonnegative"),
        Case("em.m_step: resp rows sum to 2", lambda: em.m_step(x, 2 * resp), V, "resp must sum to one"),
        Case("em.m_step: negative reg_covar", lambda: em.m_step(x, resp, -1.0), V, "reg_covar"),
        Case("em.init: params a tuple", lambda: em.init(x, tuple(gmm)), T, "params must be a GMMParams"),
        Case("em.step: a MixtureState", lambda: em.step(mix_state, x), T, "state must be an? EMState, made by vibook.em.init"),
        Case("em.step: state for other data", lambda: em.step(em_state, x[:4]), V, "state.log_joint must have shape"),
        Case("em.step: negative reg_covar", lambda: em.step(em_state, x, -1.0), V, "reg_covar"),
        Case("em.fit: num_steps 0", lambda: em.fit(x, gmm, 0), V, "num_steps"),
        Case("em.fit: num_steps a float", lambda: em.fit(x, gmm, 5.0), T, "num_steps"),
        Case("em.fit_gmm: init a tuple", lambda: em.fit_gmm(x, tuple(gmm), 5), T, "init must be a GMMParams"),
        Case("em.fit_gmm: init.covs not PD", lambda: em.fit_gmm(x, gmm._replace(covs=-gmm.covs), 5), V, "init.covs must be positive definite"),
        Case("em.fit_gmm: NaN in x", lambda: em.fit_gmm(x_nan, gmm, 5), V, "x must not contain NaN"),
        Case("em.fit_gmm: negative reg_covar", lambda: em.fit_gmm(x, gmm, 5, -1e-3), V, "reg_covar"),
        Case("em.init_gmm: key batch", lambda: em.init_gmm(KEYS, x, 2), T, "key must be a single key"),
        Case("em.init_gmm: K > N", lambda: em.init_gmm(KEY, x, 7), V, "num_components must be at most"),
        Case("em.init_gmm: K = 0", lambda: em.init_gmm(KEY, x, 0), V, "num_components"),
        Case("em.sklearn_fit: init covs not PD", lambda: em.sklearn_fit(x, gmm._replace(covs=-gmm.covs), 5), V, "init.covs"),
        Case("em.sklearn_fit: num_steps 0", lambda: em.sklearn_fit(x, gmm, 0), V, "num_steps"),
        # mixture
        Case("mixture.update_local: m of the wrong D", lambda: mixture.update_local(jnp.zeros((2, 3)), jnp.ones(2), x), V, "m must have shape"),
        Case("mixture.update_local: s2 of the wrong K", lambda: mixture.update_local(jnp.zeros((2, 2)), jnp.ones(3), x), V, "s2 must have shape"),
        Case("mixture.update_local: s2 negative", lambda: mixture.update_local(jnp.zeros((2, 2)), -jnp.ones(2), x), V, "s2 must have every entry > 0"),
        Case("mixture.update_global: phi rows sum to 2", lambda: mixture.update_global(jnp.ones((6, 2)), x, 1.0), V, "phi must sum to one"),
        Case("mixture.update_global: phi of the wrong N", lambda: mixture.update_global(jnp.ones((5, 2)) / 2, x, 1.0), V, "phi must have shape"),
        Case("mixture.update_global: scale 0", lambda: mixture.update_global(resp, x, 1.0, scale=0.0), V, "scale"),
        Case("mixture.update_global: prior_scale negative", lambda: mixture.update_global(resp, x, -1.0), V, "prior_scale"),
        Case("mixture.elbo: a tuple state", lambda: mixture.elbo(tuple(mix_state), x, 1.0), T, "state must be a MixtureState, made by vibook.mixture.init"),
        Case("mixture.elbo: state for other data", lambda: mixture.elbo(mix_state, x[:4], 1.0), V, "state.phi must have shape"),
        Case("mixture.init: K > N", lambda: mixture.init(KEY, x, 7, 1.0), V, "num_components must be at most"),
        Case("mixture.init: prior_scale 0", lambda: mixture.init(KEY, x, 2, 0.0), V, "prior_scale"),
        Case("mixture.init: key an int", lambda: mixture.init(0, x, 2, 1.0), T, "key must be a JAX PRNG key"),
        Case("mixture.step: a VBGMMState", lambda: mixture.step(vb_state, x, 1.0), T, "state must be a MixtureState, made by vibook.mixture.init"),
        Case("mixture.step: NaN in x", lambda: mixture.step(mix_state, x_nan, 1.0), V, "x must not contain NaN"),
        Case("mixture.fit: num_steps 0", lambda: mixture.fit(KEY, x, 2, 1.0, 0), V, "num_steps"),
        Case("mixture.fit: x 1-D", lambda: mixture.fit(KEY, x[:, 0], 2, 1.0, 5), V, "x must have 2"),
        # normal_gamma
        Case("normal_gamma.posterior: prior a tuple", lambda: normal_gamma.posterior(x1, tuple(ng_prior)), T, "prior must be a NormalGamma"),
        Case("normal_gamma.posterior: prior.rate 0", lambda: normal_gamma.posterior(x1, ng_prior._replace(rate=0.0)), V, "prior.rate"),
        Case("normal_gamma.posterior: x 2-D", lambda: normal_gamma.posterior(x, ng_prior), V, "x must have 1"),
        Case("normal_gamma.update_mu: tau_mean negative", lambda: normal_gamma.update_mu(-1.0, x1, ng_prior), V, "tau_mean"),
        Case("normal_gamma.update_mu: prior.shape negative", lambda: normal_gamma.update_mu(1.0, x1, ng_prior._replace(shape=-1.0)), V, "prior.shape"),
        Case("normal_gamma.update_tau: mu_precision 0", lambda: normal_gamma.update_tau(0.0, 0.0, x1, ng_prior), V, "mu_precision"),
        Case("normal_gamma.update_tau: mu_mean NaN", lambda: normal_gamma.update_tau(NAN, 1.0, x1, ng_prior), V, "mu_mean"),
        Case("normal_gamma.elbo: a GaussianState", lambda: normal_gamma.elbo(g_state, x1, ng_prior), T, "state must be a NormalGammaState, made by vibook.normal_gamma.init"),
        Case("normal_gamma.elbo: state.tau_rate negative", lambda: normal_gamma.elbo(ng_state._replace(tau_rate=jnp.array(-1.0)), x1, ng_prior), V, "state.tau_rate"),
        Case("normal_gamma.init: tau_mean 0", lambda: normal_gamma.init(x1, ng_prior, tau_mean=0.0), V, "tau_mean"),
        Case("normal_gamma.init: prior.precision_scale 0", lambda: normal_gamma.init(x1, ng_prior._replace(precision_scale=0.0)), V, "prior.precision_scale"),
        Case("normal_gamma.step: NaN in x", lambda: normal_gamma.step(ng_state, x1.at[0].set(NAN), ng_prior), V, "x must not contain NaN"),
        Case("normal_gamma.step: a tuple state", lambda: normal_gamma.step(tuple(ng_state), x1, ng_prior), T, "state must be a NormalGammaState"),
        Case("normal_gamma.fit: num_steps 0", lambda: normal_gamma.fit(x1, ng_prior, 0), V, "num_steps"),
        Case("normal_gamma.fit: prior.mean inf", lambda: normal_gamma.fit(x1, ng_prior._replace(mean=float("inf")), 5), V, "prior.mean"),
        # gaussian
        Case("gaussian.kl: precision not PD", lambda: gaussian.kl(g_state, mean, not_pd), V, "precision must be positive definite"),
        Case("gaussian.kl: a NormalGammaState", lambda: gaussian.kl(ng_state, mean, precision), T, "state must be a GaussianState, made by vibook.gaussian.init"),
        Case("gaussian.kl: state.var 0", lambda: gaussian.kl(g_state._replace(var=jnp.zeros(2)), mean, precision), V, "state.var must have every entry > 0"),
        Case("gaussian.init: precision not symmetric", lambda: gaussian.init(mean, not_sym, mean), V, "precision must be symmetric"),
        Case("gaussian.init: precision of the wrong D", lambda: gaussian.init(mean, jnp.eye(3), mean), V, "precision must have shape"),
        Case("gaussian.init: m0 of the wrong D", lambda: gaussian.init(mean, precision, jnp.zeros(3)), V, "m0 must have shape"),
        Case("gaussian.step: state of the wrong D", lambda: gaussian.step(g_state, jnp.zeros(3), jnp.eye(3)), V, "state.m must have shape"),
        Case("gaussian.fit: mean inf", lambda: gaussian.fit(mean.at[0].set(jnp.inf), precision, mean, 5), V, "mean must not contain NaN or inf"),
        Case("gaussian.fit: num_steps 0", lambda: gaussian.fit(mean, precision, mean, 0), V, "num_steps"),
        # vbgmm
        Case("vbgmm.update_local: a MixtureState", lambda: vbgmm.update_local(mix_state, x), T, "state must be a VBGMMState, made by vibook.vbgmm.init"),
        Case("vbgmm.update_local: state.scale of the wrong D", lambda: vbgmm.update_local(vb_state._replace(scale=vb_state.scale[:, :1]), x), V, "state.scale"),
        Case("vbgmm.update_global: resp rows sum to 2", lambda: vbgmm.update_global(x, 2 * resp, vb_prior), V, "resp must sum to one"),
        Case("vbgmm.update_global: resp of the wrong N", lambda: vbgmm.update_global(x, resp[:5], vb_prior), V, "resp must have shape"),
        Case("vbgmm.update_global: prior a tuple", lambda: vbgmm.update_global(x, resp, tuple(vb_prior)), T, "prior must be a VBGMMPrior"),
        Case("vbgmm.update_global: prior.dof <= D - 1", lambda: vbgmm.update_global(x, resp, vb_prior._replace(dof=1.0)), V, "prior.dof must be > D - 1"),
        Case("vbgmm.update_global: prior.scale not PD", lambda: vbgmm.update_global(x, resp, vb_prior._replace(scale=not_pd)), V, "prior.scale must be positive definite"),
        Case("vbgmm.update_global: prior.mean of the wrong D", lambda: vbgmm.update_global(x, resp, vb_prior._replace(mean=jnp.zeros(3))), V, "prior.mean"),
        Case("vbgmm.elbo: a tuple state", lambda: vbgmm.elbo(tuple(vb_state), x, vb_prior), T, "state must be a VBGMMState"),
        Case("vbgmm.elbo: state.resp rows sum to 2", lambda: vbgmm.elbo(vb_state._replace(resp=2 * vb_state.resp), x, vb_prior), V, "state.resp must sum to one"),
        Case("vbgmm.init: K > N", lambda: vbgmm.init(KEY, x, 7, vb_prior), V, "num_components must be at most"),
        Case("vbgmm.init: prior.concentration 0", lambda: vbgmm.init(KEY, x, 2, vb_prior._replace(concentration=0.0)), V, "prior.concentration"),
        Case("vbgmm.step: state for other data", lambda: vbgmm.step(vb_state, x[:4], vb_prior), V, "state.resp must have shape"),
        Case("vbgmm.step: prior.mean_precision negative", lambda: vbgmm.step(vb_state, x, vb_prior._replace(mean_precision=-1.0)), V, "prior.mean_precision"),
        Case("vbgmm.fit: num_steps 0", lambda: vbgmm.fit(KEY, x, 2, vb_prior, 0), V, "num_steps"),
        Case("vbgmm.fit: key batch", lambda: vbgmm.fit(KEYS, x, 2, vb_prior, 5), T, "key must be a single key"),
        Case("vbgmm.expected_weights: a MixtureState", lambda: vbgmm.expected_weights(mix_state), T, "state must be a VBGMMState"),
        Case("vbgmm.expected_weights: state.concentration 0", lambda: vbgmm.expected_weights(vb_state._replace(concentration=jnp.zeros(2))), V, "state.concentration"),
        Case("vbgmm.expected_covariances: state.dof <= D - 1", lambda: vbgmm.expected_covariances(vb_state._replace(dof=jnp.ones(2))), V, "state.dof must be > D - 1"),
        Case("vbgmm.expected_log_weights: a tuple state", lambda: vbgmm.expected_log_weights(tuple(vb_state)), T, "state must be a VBGMMState"),
        Case("vbgmm.expected_log_det_precision: state.scale not PD", lambda: vbgmm.expected_log_det_precision(vb_state._replace(scale=jnp.stack([not_pd, not_pd]))), V, "state.scale must be positive definite"),
        Case("vbgmm.sklearn_fit: resp rows sum to 2", lambda: vbgmm.sklearn_fit(x, vb_prior, 2 * resp, 5), V, "resp must sum to one"),
        Case("vbgmm.sklearn_fit: num_steps 0", lambda: vbgmm.sklearn_fit(x, vb_prior, resp, 0), V, "num_steps"),
    ]


H1A_CASES = _h1a_cases()


# --- H1b: svi, vi, vae, device sharding ---
def _h1b_cases():
    import functools

    import optax

    from vibook import device, families, mixture, svi, vae, vi
    from vibook.models import ExponentialNormal

    T, V = TypeError, ValueError
    x = jnp.array([[-2.0, 0.1], [-1.8, -0.2], [-2.2, 0.3], [2.0, 0.0], [1.9, 0.4], [2.3, -0.1]])
    x_nan = x.at[0, 0].set(NAN)
    svi_state = svi.init(KEY, x, 2, 1.0)
    mix_state = mixture.init(KEY, x, 2, 1.0)

    # vi: a 2-D mean-field Gaussian, a quadratic objective, a regression for minibatches
    params = families.normal.init(jnp.zeros(2), 1.0)
    opt = optax.sgd(0.1)
    vi_state = vi.init(params, opt)

    def objective(key, p):
        return -jnp.sum(p.loc**2)

    def vector(key, p):
        return -p.loc**2

    def nan(key, p):
        return jnp.sum(p.loc) * NAN

    y = jnp.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])

    def log_prior(w):
        return -0.5 * jnp.sum(w**2)

    def log_lik(w, batch):
        xb, yb = batch
        return yb * (xb @ w) - jax.nn.softplus(xb @ w)

    mb = functools.partial(vi.minibatch_elbo, log_prior=log_prior, log_lik=log_lik,
                           family=families.normal, num_data=6)

    # vae: a tiny one on random binary data
    vae_params = vae.init(KEY, 4, 2, (3,))
    bits = (jax.random.uniform(KEY, (6, 4)) < 0.5).astype(jnp.float32)
    vae_state = vae.VAEState(vae_params, opt.init(vae_params))
    model = ExponentialNormal()

    return [
        Case("svi.step_size: tau 0", lambda: svi.step_size(1, 0.0, 0.7), V, "tau"),
        Case("svi.step_size: kappa 0.5", lambda: svi.step_size(1, 1.0, 0.5), V, "kappa"),
        Case("svi.step_size: negative t", lambda: svi.step_size(-1, 1.0, 0.7), V, "t must be >= 0"),
        Case("svi.to_natural: negative s2", lambda: svi.to_natural(x[:2], jnp.array([1.0, -1.0])), V, "s2"),
        Case("svi.to_natural: 1-D m", lambda: svi.to_natural(x[0], jnp.ones(2)), V, "m"),
        Case("svi.from_natural: eta2 > 0", lambda: svi.from_natural(x[:2], jnp.array([-1.0, 1.0])), V, "eta2"),
        Case("svi.init: key batch", lambda: svi.init(KEYS, x, 2, 1.0), T, "key"),
        Case("svi.init: num_components > N", lambda: svi.init(KEY, x, 7, 1.0), V, "num_components"),
        Case("svi.init: prior_scale 0", lambda: svi.init(KEY, x, 2, 0.0), V, "prior_scale"),
        Case("svi.step: a MixtureState", lambda: svi.step(mix_state, x[:2], 6, 1.0), T, "vibook.svi.init"),
        Case("svi.step: NaN in x_batch", lambda: svi.step(svi_state, x_nan[:2], 6, 1.0), V, "x_batch"),
        Case("svi.step: num_data < |B|", lambda: svi.step(svi_state, x[:4], 2, 1.0), V, "num_data"),
        Case("svi.step: kappa 1.5", lambda: svi.step(svi_state, x[:2], 6, 1.0, kappa=1.5), V, "kappa"),
        Case("svi.fit: key batch", lambda: svi.fit(KEYS, x, svi_state, 1, 2, 1.0), T, "key"),
        Case("svi.fit: a MixtureState", lambda: svi.fit(KEY, x, mix_state, 1, 2, 1.0), T, "vibook.svi.init"),
        Case("svi.fit: batch_size > N", lambda: svi.fit(KEY, x, svi_state, 1, 7, 1.0), V, "batch_size"),
        Case("svi.fit: num_epochs 0", lambda: svi.fit(KEY, x, svi_state, 0, 2, 1.0), V, "num_epochs"),
        Case("svi.fit: state.m of another D", lambda: svi.fit(KEY, x[:, :1], svi_state, 1, 2, 1.0), V, "state.m"),
        Case("svi.fit: NaN in x", lambda: svi.fit(KEY, x_nan, svi_state, 1, 2, 1.0), V, "x must not contain NaN"),
        Case("svi.elbo: s2 of the wrong shape", lambda: svi.elbo(svi_state.m, jnp.ones(3), x, 1.0), V, "s2"),
        Case("svi.elbo: m of another D", lambda: svi.elbo(jnp.ones((2, 3)), jnp.ones(2), x, 1.0), V, "m must have D"),
        Case("svi.elbo: a list x with NaN", lambda: svi.elbo(svi_state.m, svi_state.s2, [[NAN, 0.0]], 1.0), V, "x"),
        Case("vi.init: NaN params", lambda: vi.init(params._replace(loc=jnp.array([NAN, 0.0])), opt), V, "params"),
        Case("vi.init: optimizer a string", lambda: vi.init(params, "adam"), T, "optimizer"),
        Case("vi.step: key batch", lambda: vi.step(KEYS, vi_state, objective, opt), T, "key"),
        Case("vi.step: params as the state", lambda: vi.step(KEY, params, objective, opt), T, "vibook.vi.init"),
        Case("vi.step: objective None", lambda: vi.step(KEY, vi_state, None, opt), T, "objective"),
        Case("vi.step: objective returns a vector", lambda: vi.step(KEY, vi_state, vector, opt), V, "objective"),
        Case("vi.step: objective returns NaN", lambda: vi.step(KEY, vi_state, nan, opt), V, "objective"),
        Case("vi.fit: key batch", lambda: vi.fit(KEYS, objective, params, opt, 5), T, "key"),
        Case("vi.fit: num_steps 0", lambda: vi.fit(KEY, objective, params, opt, 0), V, "num_steps"),
        Case("vi.fit: objective returns a vector", lambda: vi.fit(KEY, vector, params, opt, 5), V, "objective"),
        Case("vi.fit: objective returns NaN", lambda: vi.fit(KEY, nan, params, opt, 5), V, "objective"),
        Case("vi.minibatch_elbo: family a string", lambda: vi.minibatch_elbo(KEY, params, (x, y), log_prior, log_lik, "normal", 6), T, "family .*vibook.families.normal"),
        Case("vi.minibatch_elbo: key batch", lambda: mb(KEYS, params, (x, y)), T, "key"),
        Case("vi.minibatch_elbo: log_lik summed", lambda: vi.minibatch_elbo(KEY, params, (x, y), log_prior, lambda w, b: jnp.sum(log_lik(w, b)), families.normal, 6), V, "log_lik"),
        Case("vi.minibatch_elbo: log_prior per coordinate", lambda: vi.minibatch_elbo(KEY, params, (x, y), lambda w: -w**2, log_lik, families.normal, 6), V, "log_prior"),
        Case("vi.minibatch_elbo: num_data 0", lambda: vi.minibatch_elbo(KEY, params, (x, y), log_prior, log_lik, families.normal, 0), V, "num_data"),
        Case("vi.minibatch_elbo: batch of mixed lengths", lambda: mb(KEY, params, (x, y[:3])), V, "batch"),
        Case("vi.minibatch_fit: batch_size > N", lambda: vi.minibatch_fit(KEY, mb, params, opt, (x, y), 1, 7), V, "batch_size"),
        Case("vi.minibatch_fit: data of mixed lengths", lambda: vi.minibatch_fit(KEY, mb, params, opt, (x, y[:3]), 1, 2), V, "data"),
        Case("vi.minibatch_fit: num_epochs 0", lambda: vi.minibatch_fit(KEY, mb, params, opt, (x, y), 0, 2), V, "num_epochs"),
        Case("vi.minibatch_fit: objective a string", lambda: vi.minibatch_fit(KEY, "elbo", params, opt, (x, y), 1, 2), T, "objective"),
        Case("vae.init: latent_dim 0", lambda: vae.init(KEY, 4, 0), V, "latent_dim"),
        Case("vae.init: data_dim a float", lambda: vae.init(KEY, 4.0, 2), T, "data_dim"),
        Case("vae.init: key batch", lambda: vae.init(KEYS, 4, 2), T, "key"),
        Case("vae.dims: a list of layers", lambda: vae.dims(list(vae_params)), T, "params must be a VAEParams"),
        Case("vae.encode: x of another data_dim", lambda: vae.encode(vae_params, jnp.ones(5)), V, "x"),
        Case("vae.encode: NaN in x", lambda: vae.encode(vae_params, [NAN, 0, 1, 0]), V, "x"),
        Case("vae.decode: z of another latent_dim", lambda: vae.decode(vae_params, jnp.ones(3)), V, "z"),
        Case("vae.bernoulli_log_prob: x not binary", lambda: vae.bernoulli_log_prob(jnp.zeros(4), jnp.full(4, 0.5)), V, "x must be binary"),
        Case("vae.bernoulli_log_prob: NaN logits", lambda: vae.bernoulli_log_prob([NAN, 0.0], jnp.ones(2)), V, "logits"),
        Case("vae.gaussian_kl: negative scale", lambda: vae.gaussian_kl(jnp.zeros(2), jnp.array([1.0, -1.0])), V, "scale"),
        Case("vae.gaussian_kl: NaN mean", lambda: vae.gaussian_kl([NAN, 0.0], jnp.ones(2)), V, "mean"),
        Case("vae.elbo_terms: key batch", lambda: vae.elbo_terms(KEYS, vae_params, bits), T, "key"),
        Case("vae.elbo: beta 0", lambda: vae.elbo(KEY, vae_params, bits, beta=0.0), V, "beta"),
        Case("vae.elbo: x not binary", lambda: vae.elbo(KEY, vae_params, bits * 0.5), V, "binary"),
        Case("vae.iwae_bound: num_samples 0", lambda: vae.iwae_bound(KEY, vae_params, bits, 0), V, "num_samples"),
        Case("vae.iwae_bound: key batch", lambda: vae.iwae_bound(KEYS, vae_params, bits, 5), T, "key"),
        Case("vae.step: params as the state", lambda: vae.step(KEY, vae_params, bits, opt), T, "VAEState"),
        Case("vae.step: x_batch not binary", lambda: vae.step(KEY, vae_state, bits * 0.5, opt), V, "x_batch"),
        Case("vae.step: optimizer a string", lambda: vae.step(KEY, vae_state, bits, "adam"), T, "optimizer"),
        Case("vae.fit: batch_size > N", lambda: vae.fit(KEY, vae_params, bits, 1, 7, opt), V, "batch_size"),
        Case("vae.fit: x_test of another data_dim", lambda: vae.fit(KEY, vae_params, bits, 1, 2, opt, x_test=bits[:, :3]), V, "x_test"),
        Case("vae.fit: key batch", lambda: vae.fit(KEYS, vae_params, bits, 1, 2, opt), T, "key"),
        Case("device.data_parallel: batch_size 0", lambda: device.data_parallel(0), V, "batch_size"),
        Case("device.data_parallel: devices a string", lambda: device.data_parallel(8, "cpu"), T, "devices"),
        Case("device.data_parallel: no devices", lambda: device.data_parallel(8, []), V, "devices"),
        Case("models.ExponentialNormal.elbo: rate <= 0", lambda: model.elbo(1.3, jnp.array([1.0, 0.0])), V, "rate"),
        Case("models.ExponentialNormal.elbo: NaN x", lambda: model.elbo([1.3, NAN], 1.0), V, "x"),
        Case("models.ExponentialNormal.optimal_rate: 2-D x", lambda: model.optimal_rate(jnp.ones((2, 2))), V, "x"),
    ]


H1B_CASES = _h1b_cases()


# --- widgets -----------------------------------------------------------------------------
def _widgets_cases():
    from vibook import widgets

    T, V = TypeError, ValueError
    draw = lambda fig, v: fig.subplots().plot([0, v])                    # noqa: E731
    ok = dict(label="x", alt="A line.")
    return [
        Case("widgets.slider: draw not callable",
             lambda: widgets.slider("plot", [1.0], **ok), T, "draw"),
        Case("widgets.slider: no values", lambda: widgets.slider(draw, [], **ok), V, "values"),
        Case("widgets.slider: label not a string",
             lambda: widgets.slider(draw, [1.0], label=None, alt="A line."), T, "label"),
        Case("widgets.slider: empty alt text",
             lambda: widgets.slider(draw, [1.0], label="x", alt=" "), T, "alt"),
        Case("widgets.slider: initial not among the values",
             lambda: widgets.slider(draw, [1.0, 2.0], initial=3.0, **ok), V, "initial"),
    ]


WIDGETS_CASES = _widgets_cases()


# --- issue 21: user functions of the wrong convention, complex input, mismatched optimisers,
#     transforms, optimize, the opt-in convergence check -----------------------------------
def _issue21_cases():
    import optax

    from vibook import elbo, families, optimize, transforms, vi, widgets

    T, V = TypeError, ValueError
    Runtime = jax.errors.JaxRuntimeError
    params = families.normal.init(jnp.zeros(2), 1.0)
    fr_params = families.full_rank_normal.init(jnp.zeros(2))
    adam_state = vi.init(params, optax.adam(0.1))
    objective = lambda key, p: -jnp.sum(p.loc**2)                       # noqa: E731
    normal2 = lambda z: -0.5 * jnp.sum(z**2, axis=-1)                   # noqa: E731
    one = lambda z: -0.5 * jnp.sum(z**2)                                # noqa: E731
    draw = lambda fig, v: fig.subplots().plot([0, v])                   # noqa: E731
    ok = dict(label="x", alt="A line.")
    pos = transforms.positive()
    model = transforms.unconstrain(lambda p: -p["s"], {"s": pos}, {"s": 1.0})
    renyi_jit = jax.jit(lambda a: elbo.renyi(KEY, params, normal2, families.normal, a, 4))
    return [
        # a user function written for another convention
        Case("elbo.reparam: log_joint(z, x)", lambda: elbo.reparam(KEY, params, lambda z, x: normal2(z), families.normal), T, r"log_joint must be callable as log_joint\(z\)"),
        Case("elbo.importance_weighted: log_joint(z, x)", lambda: elbo.importance_weighted(KEY, params, lambda z, x: normal2(z), families.normal, 4), T, "log_joint must be callable"),
        Case("elbo.reparam_kl: kl_to_prior()", lambda: elbo.reparam_kl(KEY, params, normal2, lambda: 0.0, families.normal), T, r"kl_to_prior must be callable as kl_to_prior\(params\)"),
        Case("vi.fit: objective(params)", lambda: vi.fit(KEY, lambda p: -jnp.sum(p.loc**2), params, optax.adam(0.1), 5), T, r"objective must be callable as objective\(key, params\)"),
        Case("vi.step: objective(params)", lambda: vi.step(KEY, adam_state, lambda p: 0.0, optax.adam(0.1)), T, r"objective\(key, params\)"),
        Case("vi.minibatch_fit: objective(key, params)", lambda: vi.minibatch_fit(KEY, objective, params, optax.adam(0.1), (jnp.zeros((4, 2)),), 1, 2), T, r"objective\(key, params, batch\)"),
        Case("vi.minibatch_elbo: log_lik(z)", lambda: vi.minibatch_elbo(KEY, params, (jnp.zeros((4, 2)),), one, one, families.normal, 4), T, r"log_lik\(z, batch\)"),
        # a matrix scale for the mean-field family
        Case("families.normal.init: a matrix scale", lambda: families.normal.init(jnp.zeros(2), jnp.eye(2)), V, "full_rank_normal"),
        # complex input is refused, not cast
        Case("families.normal.init: complex loc", lambda: families.normal.init(jnp.array([1.0 + 2j, 0.0]), 1.0), T, "loc must be real"),
        Case("vi.init: complex params", lambda: vi.init(params._replace(loc=jnp.array([1j, 0.0])), optax.adam(0.1)), T, "params must be real"),
        Case("elbo.renyi: complex alpha", lambda: elbo.renyi(KEY, params, normal2, families.normal, 0.5 + 1j), T, "alpha"),
        Case("elbo.reparam: log_joint returns complex", lambda: elbo.reparam(KEY, params, lambda z: normal2(z) + 0j, families.normal), T, "log_joint must return real numbers"),
        # an optimiser other than the state's
        Case("vi.step: sgd given an adam state", lambda: vi.step(KEY, adam_state, objective, optax.sgd(0.1)), V, "optimizer does not match state.opt_state"),
        # NaN alpha under jit
        Case("elbo.renyi: under jit, NaN alpha", lambda: renyi_jit(NAN), Runtime, "ValueError: alpha must be a finite number"),
        # the opt-in convergence check
        Case("vi.converged: a tuple", lambda: vi.converged((jnp.zeros(20),)), T, "info must be a VIInfo"),
        Case("vi.fit: check_convergence a string", lambda: vi.fit(KEY, objective, params, optax.adam(0.1), 20, check_convergence="yes"), T, "check_convergence"),
        Case("vi.fit: check_convergence on 3 steps", lambda: vi.fit(KEY, objective, params, optax.adam(0.1), 3, check_convergence=True), V, "check_convergence"),
        Case("families.full_rank_normal.sample_and_log_prob: key batch", lambda: families.full_rank_normal.sample_and_log_prob(KEYS, fr_params, 3), T, "single key"),
        # widgets.slider's own arguments
        Case("widgets.slider: draw(value)", lambda: widgets.slider(lambda v: None, [1.0], **ok), T, r"draw must be callable as draw\(fig, value\)"),
        Case("widgets.slider: fmt not a string", lambda: widgets.slider(draw, [1.0], fmt=3, **ok), T, "fmt"),
        Case("widgets.slider: fmt that cannot format", lambda: widgets.slider(draw, [1.0], fmt="{:d}", **ok), V, "fmt"),
        Case("widgets.slider: figsize one number", lambda: widgets.slider(draw, [1.0], figsize=6.0, **ok), V, "figsize"),
        Case("widgets.slider: figsize negative", lambda: widgets.slider(draw, [1.0], figsize=(6.0, -1.0), **ok), V, "figsize"),
        Case("widgets.slider: dpi 0", lambda: widgets.slider(draw, [1.0], dpi=0, **ok), V, "dpi"),
        Case("widgets.slider: values a string", lambda: widgets.slider(draw, "abc", **ok), T, "values"),
        # transforms
        Case("transforms.real: forward of a string", lambda: transforms.real().forward("u"), T, "u"),
        Case("transforms.positive: kind unknown", lambda: transforms.positive(kind="square"), V, "kind"),
        Case("transforms.positive: NaN lower", lambda: transforms.positive(lower=NAN), V, "lower"),
        Case("transforms.interval: upper < lower", lambda: transforms.interval(1.0, 0.0), V, "upper must be > lower"),
        Case("transforms.ordered: a matrix u", lambda: transforms.ordered().forward(jnp.zeros((2, 2))), V, "u"),
        Case("transforms.simplex: a matrix y", lambda: transforms.simplex().inverse(jnp.eye(2)), V, "y"),
        Case("transforms.cholesky_corr: 2 entries", lambda: transforms.cholesky_corr().forward(jnp.zeros(2)), V, r"u must have K\(K-1\)/2"),
        Case("transforms.cholesky_cov: 4 entries", lambda: transforms.cholesky_cov().forward(jnp.zeros(4)), V, "u must have"),
        Case("transforms.affine: zero diagonal", lambda: transforms.affine(jnp.zeros(2), jnp.zeros((2, 2))), V, "scale_tril"),
        Case("transforms.affine: scale_tril not lower triangular", lambda: transforms.affine(jnp.zeros(2), jnp.array([[1.0, 0.5], [0.0, 1.0]])), V, "scale_tril must be lower triangular"),
        Case("transforms.affine: scale_tril of another D", lambda: transforms.affine(jnp.zeros(2), jnp.eye(3)), V, "scale_tril"),
        Case("transforms.unconstrain: log_density(p, x)", lambda: transforms.unconstrain(lambda p, x: 0.0, {"s": pos}, {"s": 1.0}), T, r"log_density must be callable as log_density\(params\)"),
        Case("transforms.unconstrain: init outside the support", lambda: transforms.unconstrain(lambda p: -p["s"], {"s": pos}, {"s": -1.0}), V, r"init\['s'\] must be inside the support"),
        Case("transforms.unconstrain: keys differ", lambda: transforms.unconstrain(lambda p: -p["s"], {"s": pos}, {"t": 1.0}), V, "init must be a dict with the keys"),
        Case("transforms.unconstrain: a transform a string", lambda: transforms.unconstrain(lambda p: -p["s"], {"s": "positive"}, {"s": 1.0}), T, r"transforms\['s'\]"),
        Case("transforms.unconstrain: log_density per entry", lambda: transforms.unconstrain(lambda p: -p["s"], {"s": pos}, {"s": jnp.ones(2)}), V, "log_density must return shape"),
        Case("transforms.unconstrain: constrain of the wrong D", lambda: model.constrain(jnp.zeros(3)), V, "u must have shape"),
        # optimize
        Case("optimize.find_mode: log_density(z, x)", lambda: optimize.find_mode(lambda z, x: one(z), jnp.zeros(2)), T, r"log_density must be callable as log_density\(z\)"),
        Case("optimize.find_mode: a batched log_joint", lambda: optimize.find_mode(lambda z: -z**2, jnp.zeros(2)), V, "log_density must return shape"),
        Case("optimize.find_mode: NaN init", lambda: optimize.find_mode(one, jnp.array([NAN, 0.0])), V, "init"),
        Case("optimize.find_mode: tol < 0", lambda: optimize.find_mode(one, jnp.zeros(2), tol=-1.0), V, "tol"),
        Case("optimize.laplace_scale_tril: a minimum", lambda: optimize.laplace_scale_tril(lambda z: jnp.sum(z**2), jnp.zeros(2)), V, "not positive definite"),
        Case("optimize.laplace_scale_tril: position a matrix", lambda: optimize.laplace_scale_tril(one, jnp.zeros((2, 2))), V, "position"),
    ]


ISSUE21_CASES = _issue21_cases()


# --- the lead's integration: convergence, references, lda and the functions added this round ---
def _round_cases():
    from collections import namedtuple

    from vibook import (convergence, data, diagnostics, flows, lda, marginal, mcmc,
                        references)

    V, T = ValueError, TypeError
    flat = np.ones(40)
    Info = namedtuple("Info", "loss_x")
    lam = jnp.ones((2, 3))
    good = lda.corpus([[1, 0, 2], [0, 3, 0]])
    state = lda.init(KEY, 2, 3)
    cavi = lda.cavi_init(KEY, good, 2, 3)
    planar = flows.planar(2, 2)
    p_params = planar.init(KEY)
    log_joint2 = lambda z: -0.5 * jnp.sum(z**2, axis=-1)                # noqa: E731
    lw = jax.random.normal(KEY, (100,))
    return [
        Case("convergence.report: NaN in the trace", lambda: convergence.report(np.r_[flat, NAN]), V, "trace"),
        Case("convergence.report: 3-D trace", lambda: convergence.report(np.ones((4, 4, 4))), V, "trace"),
        Case("convergence.report: complex trace", lambda: convergence.report(flat + 1j), T, "trace"),
        Case("convergence.report: window too long", lambda: convergence.report(flat, window=30), V, "window"),
        Case("convergence.report: Info without the field",
             lambda: convergence.report(Info(flat), objective="elbo"), V, "objective"),
        Case("convergence.check: negative tol", lambda: convergence.check(flat, tol=-1.0), V, "tol"),
        Case("references.load: unknown name", lambda: references.load("no_such_run"), V, "name"),
        Case("references.load: not an identifier", lambda: references.load("../x"), V, "name"),
        Case("references.save: reserved array name",
             lambda: references.save("x", script="s", _meta=1), V, "_meta"),
        Case("data.bar_topics: size 0", lambda: data.bar_topics(0), V, "size"),
        Case("data.bars: key batch", lambda: data.bars(KEYS, 10), T, "single key"),
        Case("data.bars: no documents", lambda: data.bars(KEY, 0), V, "num_docs"),
        Case("diagnostics.psis_ess: NaN weights", lambda: diagnostics.psis_ess(lw.at[3].set(NAN)), V,
             "smoothed_log_weights"),
        Case("diagnostics.psis_mcse: values of another length",
             lambda: diagnostics.psis_mcse(lw, jnp.ones(99)), V, "values"),
        Case("marginal.self_normalised: values of another length",
             lambda: marginal.self_normalised(lw, jnp.ones(99)), V, "values"),
        Case("marginal.self_normalised: log_w a string", lambda: marginal.self_normalised("w", jnp.ones(3)), T,
             "log_w"),
        Case("mcmc.dispersed_starts: negative scale",
             lambda: mcmc.dispersed_starts(KEY, 4, jnp.zeros(2), scale=-1.0), V, "scale"),
        Case("mcmc.ebfmi: one chain's energy as a matrix", lambda: mcmc.ebfmi(jnp.ones((2, 3, 4))), V, "energy"),
        Case("mcmc.ess_bulk: one chain", lambda: mcmc.ess_bulk(jnp.ones((1, 50, 2))), V, "draws"),
        Case("mcmc.ess_tail: one chain", lambda: mcmc.ess_tail(jnp.ones((1, 50, 2))), V, "draws"),
        Case("flows.reparam_elbo: key batch",
             lambda: flows.reparam_elbo(KEYS, p_params, log_joint2, planar), T, "single key"),
        Case("flows.reparam_elbo: num_samples 0",
             lambda: flows.reparam_elbo(KEY, p_params, log_joint2, planar, 0), V, "num_samples"),
        Case("lda.corpus: negative count", lambda: lda.corpus([[1, -1, 0]]), V, "nonnegative"),
        Case("lda.corpus: non-integer count", lambda: lda.corpus([[1.5, 0, 0]]), V, "integer"),
        Case("lda.corpus: empty document", lambda: lda.corpus([[1, 0, 0], [0, 0, 0]]), V, "empty"),
        Case("lda.to_csr: num_words 0", lambda: lda.to_csr(good, 0), V, "num_words"),
        Case("lda.local_step: vocabulary mismatch", lambda: lda.local_step(jnp.ones((2, 2)), good, 1.0), V,
             "vocabulary"),
        Case("lda.local_step: counts not a Corpus", lambda: lda.local_step(lam, np.array([[1, 0, 2]]), 1.0), T,
             "corpus"),
        Case("lda.heldout_bound: alpha 0", lambda: lda.heldout_bound(lam, good, 0.0), V, "alpha"),
        Case("lda.perplexity: negative local_tol", lambda: lda.perplexity(lam, good, 1.0, local_tol=-1.0), V,
             "local_tol"),
        Case("lda.elbo: eta 0", lambda: lda.elbo(lam, jnp.ones((2, 2)), good, 1.0, 0.0), V, "eta"),
        Case("lda.init: key batch", lambda: lda.init(KEYS, 2, 3), T, "single key"),
        Case("lda.step: kappa 0.5", lambda: lda.step(state, good, 2, 1.0, 0.1, kappa=0.5), V, "kappa"),
        Case("lda.step: a CAVI state", lambda: lda.step(cavi, good, 2, 1.0, 0.1), T, "LDAState"),
        Case("lda.fit: batch_size above N", lambda: lda.fit(KEY, good, state, 2, 3, 1.0, 0.1), V, "batch_size"),
        Case("lda.cavi_init: num_topics 0", lambda: lda.cavi_init(KEY, good, 0, 3), V, "num_topics"),
        Case("lda.cavi_step: gamma of another size",
             lambda: lda.cavi_step(lda.CAVIState(lam, jnp.ones((5, 2))), good, 1.0, 0.1), V, "state.gamma"),
        Case("lda.cavi_fit: eta negative", lambda: lda.cavi_fit(good, cavi, 2, 1.0, -0.1), V, "eta"),
        Case("lda.match_topics: shapes differ",
             lambda: lda.match_topics(jnp.ones((2, 3)), jnp.ones((3, 3))), V, "true"),
    ]


ROUND_CASES = _round_cases()


# --- the test -------------------------------------------------------------------------------

ALL_CASES = CASES + H1A_CASES + H1B_CASES + WIDGETS_CASES + ISSUE21_CASES + ROUND_CASES


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_bad_input_names_the_argument(case):
    with pytest.raises(case.error, match=case.match):
        case.call()


# --- coverage: every public function of appendix/api.md has a case -------------------------

API = pathlib.Path(__file__).parents[1] / "appendix" / "api.md"

# Public names that take no argument a reader could get wrong.
NO_ARGUMENTS = {"data.old_faithful", "references.available", "data.eight_schools", "device.describe",
                "device.cache_dir", "plotting.use_style", "report.Shown",
                "widgets.Interactive",     # made by widgets.slider, not by readers
                "vi.NotConvergedWarning"}  # raised by vi.fit, not called by readers


def _is_namedtuple(obj):
    return inspect.isclass(obj) and issubclass(obj, tuple) and hasattr(obj, "_fields")


def public_functions():
    """``module.name`` for every public function, class and Family method in api.md."""
    import importlib

    from vibook.families import Family

    names = []
    for entry in re.finditer(r"\.\. automodule:: vibook\.(\w+)(?:\n\s+:members: (.*))?",
                             API.read_text()):
        module_name, members = entry.group(1), entry.group(2)
        module = importlib.import_module(f"vibook.{module_name}")
        listed = ([m.strip() for m in members.split(",")] if members
                  else [n for n in vars(module) if not n.startswith("_")])
        for name in listed:
            obj = getattr(module, name)
            if isinstance(obj, Family):           # families.normal.log_prob, ...
                names += [f"{module_name}.{name}.{field}" for field in Family._fields
                          if getattr(obj, field) is not None]     # optional fields left out
            elif ((inspect.isfunction(obj) or inspect.isclass(obj) and not _is_namedtuple(obj))
                  and obj.__module__ == module.__name__):
                names.append(f"{module_name}.{name}")
                if inspect.isclass(obj):              # models.NormalNormal.log_joint, ...
                    names += [f"{module_name}.{name}.{m}" for m, f in vars(obj).items()
                              if not m.startswith("_") and inspect.isfunction(f)]
    return names


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_nan_or_inf_anywhere_is_refused_naming_the_argument(data):
    """A NaN or an infinity at a random place of an array argument raises ValueError."""
    from vibook import data as datasets, diagnostics, divergences, families, marginal

    grid = jnp.linspace(-6.0, 6.0, 41)
    calls = {                                   # argument name -> call with that array
        "log_weights": (40, lambda a: diagnostics.psis(a)),
        "log_w": (40, lambda a: marginal.from_log_weights(a)),
        "z": (40, lambda a: families.normal.log_prob(families.normal.init(0.0, 1.0), a)),
        "log_p": (41, lambda a: divergences.kl_grid(a, -grid**2, grid)),
        "x": (40, lambda a: datasets.standardize(a.reshape(20, 2))),
    }
    name = data.draw(st.sampled_from(sorted(calls)))
    size, call = calls[name]
    values = np.array(jax.random.normal(jax.random.key(data.draw(st.integers(0, 99))), (size,)))
    where = data.draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=3, unique=True))
    bad = data.draw(st.sampled_from([np.nan, np.inf] + ([] if name.startswith("log") else [-np.inf])))
    values[where] = bad
    with pytest.raises(ValueError, match=name):
        call(jnp.asarray(values))


def test_every_public_function_has_a_case():
    covered = {c.id.split(":")[0] for c in ALL_CASES}
    missing = sorted(set(public_functions()) - covered - NO_ARGUMENTS)
    assert not missing, f"public functions with no bad-input case: {missing}"


def test_checks_on_concrete_arrays_closed_over_inside_jit_do_not_trace():
    """A value check on a constant captured by a jitted function runs in NumPy, on the host."""
    from vibook import diagnostics, families, flows, marginal, models

    x, y = jnp.ones((4, 2)), jnp.array([0.0, 1.0, 1.0, 0.0])
    tril = jnp.array([[1.0, 0.0], [0.3, 1.0]])
    net = jax.tree_util.tree_map(lambda a: a[0], flows.coupling(2, 1, 4).init(KEY).layers)
    mask = flows.coupling_masks(2, 1)[0]
    exceed = jnp.linspace(0.1, 1.0, 8)
    grid = jnp.linspace(-1.0, 1.0, 5)
    for f in (lambda w: models.logistic_regression(w, x, y),
              lambda w: families.full_rank_normal.log_prob(families.full_rank_normal.init(w, tril), w),
              lambda w: flows.coupling_layer(net, mask, w)[0],
              lambda w: diagnostics.gpd_fit(exceed)[0] * w,
              lambda w: diagnostics.gpd_quantile(exceed / 2, 0.2, 1.0)[0] * w,
              lambda w: marginal.trapezoid_weights(grid)[1][0] * w):
        assert np.all(np.isfinite(np.asarray(jax.jit(f)(jnp.zeros(2)))))
