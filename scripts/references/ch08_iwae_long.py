"""Chapter 8's long-training control for the IWAE comparison, stored as data.

Run from the repository root: ``python scripts/references/ch08_iwae_long.py``.
The chapter trains two VAEs for 300 epochs, one on the ELBO averaged over 5
draws per image (*ELBO-5*) and one on the importance-weighted bound with 5
draws (*IWAE-5*), each from two starts, and compares them. A cosine schedule
makes every training trace flat at its end whatever the budget, so this script
trains the same four runs (same starts, keys, data, architecture, minibatch
size and peak step size) for twice as long, 600 epochs, with the cosine
schedule stretched over the 600 epochs, and stores for each run the test
bound L_5000, the test ELBO, the training trace and the trained weights
(``ch08_iwae_long``). A trained network's last digits depend on the processor,
so the chapter prints these numbers from the stored run;
``tests/test_references_ch08.py`` checks them statistically.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_max_isa=AVX2")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from vibook import data, references, vae  # noqa: E402

LATENT_DIM, HIDDEN_DIMS, BATCH_SIZE, NUM_EPOCHS = 8, (128,), 64, 600
LOSSES = {
    "elbo5": lambda p, key, x: -jnp.mean(vae.elbo(key, p, jnp.repeat(x, 5, axis=0))),
    "iwae": lambda p, key, x: -jnp.mean(vae.iwae_bound(key, p, x, 5)),
}


def setup():
    """The chapter's data, the two starts and the two training keys."""
    digits = data.digits(jax.random.key(0), test_fraction=0.2)
    x_train, x_test = digits.x_train, digits.x_test
    starts = [vae.init(jax.random.key(s), x_train.shape[1], LATENT_DIM, HIDDEN_DIMS)
              for s in (1, 101)]
    starts = jax.tree.map(lambda a, b: jnp.stack([a, b]), *starts)
    keys = jnp.stack([jax.random.key(3), jax.random.key(103)])
    return x_train, x_test, starts, keys


def fit(loss_name, keys, starts, x_train, num_epochs=NUM_EPOCHS):
    """Train on ``LOSSES[loss_name]`` as the chapter does, vmapped over restarts."""
    loss_fn = LOSSES[loss_name]
    steps_per_epoch = x_train.shape[0] // BATCH_SIZE
    optimizer = optax.adam(optax.cosine_decay_schedule(3e-3, num_epochs * steps_per_epoch))

    def fit_one(key, params):
        def batch_step(carry, inputs):
            params, opt_state = carry
            key, idx = inputs
            loss, grads = jax.value_and_grad(loss_fn)(params, key, x_train[idx])
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), -loss

        def epoch(carry, key):
            k_perm, k_steps = jax.random.split(key)
            idx = data.minibatches(k_perm, x_train.shape[0], BATCH_SIZE)
            carry, values = jax.lax.scan(batch_step, carry,
                                         (jax.random.split(k_steps, idx.shape[0]), idx))
            return carry, values.mean()

        (params, _), values = jax.lax.scan(epoch, (params, optimizer.init(params)),
                                           jax.random.split(key, num_epochs))
        return params, values

    return jax.jit(jax.vmap(fit_one))(keys, starts)


def test_bound(p, x_test, k=5000, chunk=40, seed=14):
    """The chapter's L_k on the test set (40 images at a time)."""
    parts = [vae.iwae_bound(jax.random.fold_in(jax.random.key(seed), i), p,
                            x_test[i:i + chunk], k)
             for i in range(0, x_test.shape[0], chunk)]
    return float(jnp.concatenate(parts).mean())


def test_elbo(p, x_test, num_samples=50):
    keys = jax.random.split(jax.random.key(4), num_samples)
    return float(np.mean([vae.elbo(k, p, x_test).mean() for k in keys]))


def restart(fits, r):
    return jax.tree.map(lambda a: a[r], fits)


def main():
    x_train, x_test, starts, keys = setup()
    out = {}
    for name in LOSSES:
        fits, traces = fit(name, keys, starts, x_train)
        out[f"{name}_bound5000"] = [test_bound(restart(fits, r), x_test) for r in range(2)]
        out[f"{name}_elbo"] = [test_elbo(restart(fits, r), x_test) for r in range(2)]
        out[f"{name}_trace"] = traces
        for i, leaf in enumerate(jax.tree.leaves(fits)):
            out[f"{name}_weights_{i}"] = leaf
        print(name, out[f"{name}_bound5000"], out[f"{name}_elbo"], flush=True)
    references.save("ch08_iwae_long", script=__file__, **out)


if __name__ == "__main__":
    main()
