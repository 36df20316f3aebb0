"""Starting scikit-learn's mixtures where vibook's start, to compare the two.

Used by :func:`vibook.em.sklearn_fit` and :func:`vibook.vbgmm.sklearn_fit`
(and through them by chapters 5 and 6, the tests and the benchmarks), so that
the same-start set-up is written once. scikit-learn is imported only when one
of them is called.
"""

import warnings

import numpy as np


def fit(model, x):
    """``model.fit(x)`` in float64, with the ``ConvergenceWarning`` silenced.

    The comparisons run a fixed number of iterations (``tol=0``,
    ``max_iter=num_steps``), so scikit-learn always warns that it stopped
    before converging; that is on purpose.
    """
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(np.asarray(x, np.float64))


def bayesian_gaussian_mixture_from_resp(resp, **kwargs):
    """A ``BayesianGaussianMixture`` whose first M-step uses the responsibilities ``resp``.

    scikit-learn has no public way to start its variational mixture from given
    responsibilities: its ``init_params`` options draw them itself. So this is
    the one place that uses a private hook: a subclass overrides
    ``_initialize_parameters`` (the method that draws them) to pass ``resp``
    to ``_initialize`` instead. Everything after that (the priors, the
    updates, ``max_iter`` with ``tol=0``) is scikit-learn's own code.
    (``xp``, the array namespace, is passed by recent scikit-learn versions only.)

    Parameters
    ----------
    resp : array_like, shape (N, K)
    **kwargs
        Passed to ``BayesianGaussianMixture``.

    Returns
    -------
    sklearn.mixture.BayesianGaussianMixture
        Not yet fitted.
    """
    from sklearn.mixture import BayesianGaussianMixture

    class FromResp(BayesianGaussianMixture):
        def _initialize_parameters(self, X, random_state, xp=None):
            self._initialize(X, np.asarray(resp, np.float64))

    return FromResp(n_components=np.shape(resp)[1], **kwargs)
