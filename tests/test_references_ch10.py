"""Chapter 10's stored reference runs, and the stability of what it trains live.

* The stored runs (``scripts/references/ch10_*.py``) are compared with short
  reruns *statistically*, never bitwise: NUTS means within 4 Monte Carlo
  standard errors, refitted variational families within a tolerance on the
  ELBO and the KL.
* The fits the chapter trains live (the Rényi, importance-weighted and CUBO
  fits of a Gaussian to the mixture) are rerun from a start perturbed in its
  last bit: the text the chapter prints must not change.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import reference_scripts
from vibook import convergence, diagnostics, elbo, families, mcmc, references, targets, vi
from vibook.report import fmt



def _script(name):
    return reference_scripts.load(name)


def _params(stored, prefix, template):
    tree = jax.tree_util.tree_structure(template)
    return jax.tree_util.tree_unflatten(
        tree, [jnp.asarray(stored[f"{prefix}/{i}"]) for i in range(tree.num_leaves)])


@pytest.fixture(scope="module")
def flows_2d():
    return _script("ch10_flows_2d"), references.load("ch10_flows_2d")


@pytest.fixture(scope="module")
def schools():
    return _script("ch10_eight_schools"), references.load("ch10_eight_schools")


# --- the stored runs --------------------------------------------------------------------

def test_stored_runs_record_their_script(flows_2d, schools):
    for (_, stored), name in [(flows_2d, "ch10_flows_2d"), (schools, "ch10_eight_schools")]:
        assert stored["_meta"]["script"].endswith(f"scripts/references/{name}.py")


def test_every_stored_fit_converged(flows_2d, schools):
    for key, trace in flows_2d[1].items():
        if key.endswith("/trace"):
            convergence.check(trace, key)
    for key, trace in schools[1].items():
        if key.endswith("/trace"):
            convergence.check(trace, key, window=1000, tol=0.05)


def _kl_and_elbo(target, family, params, key=jax.random.key(0)):
    g = targets.grid(target.limits, 201)
    log_q = family.log_prob(params, g.points)
    kl = float(targets.kl(log_q, target.log_density(g.points) - target.log_normalizer, g))
    z = family.sample(key, params, 4000)
    log_w = target.log_density(z) - family.log_prob(params, z)
    return kl, float(log_w.mean()), float(log_w.std() / np.sqrt(4000))


@pytest.mark.parametrize("t_name, f_name", [("funnel", "full-rank"), ("banana", "coupling")])
def test_2d_fit_matches_a_rerun(flows_2d, t_name, f_name):
    """A refit with new draws (another key) reaches the stored fit's KL and ELBO."""
    script, stored = flows_2d
    target, family = script.TARGETS[t_name], script.FAMILIES[f_name]
    params, _ = script.fit(target, f_name, fit_key=jax.random.key(41))
    kl_new, elbo_new, se_new = _kl_and_elbo(target, family, params)
    kl_old, elbo_old, se_old = _kl_and_elbo(
        target, family, _params(stored, f"{t_name}/{f_name}", script.start(f_name, family)))
    assert abs(kl_new - kl_old) < 0.01 + 0.2 * kl_old
    assert abs(elbo_new - elbo_old) < 4 * np.hypot(se_new, se_old) + 0.01


def test_nuts_reference_matches_a_short_rerun(schools):
    """Means within 4 Monte Carlo standard errors, standard deviations within 25%."""
    script, stored = schools
    draws, _ = script.nuts_reference(jax.random.key(5), num_warmup=200, num_samples=250)
    short, ref = np.asarray(draws, np.float64), stored["nuts/draws"].astype(np.float64)
    assert float(mcmc.rhat(short).max()) < 1.05
    mean_s, mean_r = short.mean((0, 1)), ref.mean((0, 1))
    sd_s, sd_r = short.std((0, 1)), ref.std((0, 1))
    se = np.sqrt(sd_s**2 / np.asarray(mcmc.ess(short)) + sd_r**2 / np.asarray(mcmc.ess(ref)))
    assert np.all(np.abs(mean_s - mean_r) < 4 * se)
    assert np.all(np.abs(sd_s / sd_r - 1) < 0.25)


def test_full_rank_schools_fit_matches_a_rerun(schools):
    """A new start (restart 5) reaches the stored full-rank optimum."""
    script, stored = schools
    lj, fam = script.LOG_JOINT, families.full_rank_normal
    params_new, trace = script.fit("full-rank", 5)
    convergence.check(trace[-4000:], "full-rank rerun", window=1000, tol=0.05)
    params_old = _params(stored, "full-rank/0", script.start("full-rank", 0))
    out = []
    for params in [params_new, params_old]:
        z = fam.sample(jax.random.key(1), params, 20_000)
        log_w = lj(z) - fam.log_prob(params, z)
        out.append((float(log_w.mean()), float(log_w.std()) / np.sqrt(20_000),
                    np.asarray(z[:, 0].mean())))
    (e_new, se_new, mu_new), (e_old, se_old, mu_old) = out
    assert abs(e_new - e_old) < 4 * np.hypot(se_new, se_old) + 0.02
    assert abs(mu_new - mu_old) < 0.3


# --- what the chapter trains live: stable under a last-bit perturbation ------------------

MIXTURE = targets.mixture()
FR = families.full_rank_normal
NUM_STEPS = 3000
OPTIMIZER = optax.adam(optax.cosine_decay_schedule(0.01, NUM_STEPS))
GRID = targets.grid(MIXTURE.limits, 301)
LOG_P = MIXTURE.log_density(GRID.points) - MIXTURE.log_normalizer


def _start(loc0, scale=1.0):
    return FR.init(jnp.array([loc0, 0.0]), scale * jnp.eye(2))


def _nudged(x):
    """``x`` moved by one unit in the last place of float32."""
    return float(np.nextafter(np.float32(x), np.float32(np.inf)))


def _summary(params, extra=()):
    """The texts the chapter prints for one fit of the full-rank Gaussian."""
    loc, tril = FR.unpack(params)
    log_q = FR.log_prob(params, GRID.points)
    out = [fmt(float(loc[0]), 2), fmt(float(jnp.linalg.norm(tril[0])), 2),
           fmt(float(targets.kl(log_q, LOG_P, GRID)), 2),
           fmt(float(targets.kl(LOG_P, log_q, GRID)), 2)]
    for name in extra:
        if name == "khat":
            z = FR.sample(jax.random.key(5), params, 10_000)
            log_w = MIXTURE.log_density(z) - FR.log_prob(params, z)
            out.append(fmt(float(diagnostics.psis(log_w)[1]), 2))
    return out


def _printed(objective, loc0=0.3, scale=1.0, extra=()):
    state, _ = vi.fit(jax.random.key(9), objective, _start(loc0, scale), OPTIMIZER, NUM_STEPS)
    return _summary(state.params, extra)


@pytest.mark.parametrize("alpha", [1.0, 0.9, 0.75, 0.5, 0.25, 0.0])
def test_renyi_fit_prints_the_same_after_a_last_bit_change(alpha):
    objective = functools.partial(elbo.renyi, log_joint=MIXTURE.log_density, family=FR,
                                  alpha=alpha, num_samples=32)
    assert _printed(objective) == _printed(objective, _nudged(0.3))


@pytest.mark.parametrize("k", [1, 8, 64])
def test_importance_weighted_fit_prints_the_same_after_a_last_bit_change(k):
    objective = functools.partial(elbo.importance_weighted, log_joint=MIXTURE.log_density,
                                  family=FR, num_samples=k, num_estimates=64 // k)
    assert (_printed(objective, extra=("khat",))
            == _printed(objective, _nudged(0.3), extra=("khat",)))


@pytest.mark.parametrize("scale", [2.0, 1.0])
def test_cubo_fit_prints_the_same_after_a_last_bit_change(scale):
    def neg_cubo(key, params):
        return -elbo.renyi(key, params, MIXTURE.log_density, FR, alpha=-1.0, num_samples=32)

    def printed(loc0):
        state, _ = vi.fit(jax.random.key(9), neg_cubo, _start(loc0, scale), OPTIMIZER,
                          NUM_STEPS)
        params = state.params
        log_q = FR.log_prob(params, GRID.points)
        exact = MIXTURE.log_normalizer + 0.5 * float(
            targets.log_integral(2 * LOG_P - log_q, GRID))
        z = FR.sample(jax.random.key(11), params, 100_000)
        log_w = MIXTURE.log_density(z) - FR.log_prob(params, z)
        mc = float(0.5 * (jax.nn.logsumexp(2 * log_w) - jnp.log(100_000)))
        return _summary(params) + [fmt(exact, 2), fmt(exact, 3), fmt(mc, 3),
                                   fmt(float(log_w.mean()), 3)]

    assert printed(0.3) == printed(_nudged(0.3))
