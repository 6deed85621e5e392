"""The moves of prospect-emu's emcee (:mod:`.emcee`): emcee's red-blue moves with the
acceptance test of each half-ensemble vectorised (the same chain, step for step), a numpy
KDE move, and an ``EnsembleSampler`` that takes the vectorised log-probability as it is."""

from __future__ import annotations

import numpy as np

from ...errors import ConfigurationError

__all__: list[str] = []  # private helpers of .emcee


def _vector_accept(move_class):
    """``move_class`` (an emcee red-blue move) with the acceptance test of each half-ensemble
    vectorised: emcee's ``propose`` compares each walker with ``log(random.rand())`` in a
    Python loop; here one ``random.rand(n)`` draws the same numbers in the same order, so
    the chain is the same, step for step."""
    from emcee.state import State

    class Vectorised(move_class):
        def propose(self, model, state):
            nwalkers, ndim = state.coords.shape
            if nwalkers < 2 * ndim and not self.live_dangerously:
                raise RuntimeError("It is unadvisable to use a red-blue move with fewer walkers "
                                   "than twice the number of dimensions.")
            self.setup(state.coords)
            accepted = np.zeros(nwalkers, dtype=bool)
            all_inds = np.arange(nwalkers)
            inds = all_inds % self.nsplits
            if self.randomize_split:
                model.random.shuffle(inds)
            for split in range(self.nsplits):
                S1 = inds == split
                sets = [state.coords[inds == j] for j in range(self.nsplits)]
                q, factors = self.get_proposal(sets[split], sets[:split] + sets[split + 1:],
                                               model.random)
                new_log_probs, new_blobs = model.compute_log_prob_fn(q)
                js = all_inds[S1]
                lnpdiff = np.asarray(factors) + new_log_probs - state.log_prob[js]
                accepted[js] = lnpdiff > np.log(model.random.rand(len(js)))
                state = self.update(state, State(q, log_prob=new_log_probs, blobs=new_blobs),
                                    accepted, S1)
            return state, accepted

    Vectorised.__name__ = Vectorised.__qualname__ = move_class.__name__
    return Vectorised


def _batch_sampler_class():
    """``emcee.EnsembleSampler`` whose ``compute_log_prob`` takes the vectorised
    log-probability's array as it is: emcee's converts it walker by walker (and looks for
    blobs, which this sampler never returns); the same checks and errors otherwise.  The
    steps' States carry no copy of the generator's state (the sampler's own does)."""
    import emcee

    class BatchEnsembleSampler(emcee.EnsembleSampler):
        _sampling = False

        @property
        def random_state(self):
            # emcee copies the generator's state (624 words) into every step's State, ~70 us
            # a step; these runs never restart from a step's State, so while sampling the
            # steps carry None, and the sampler's own state is read as emcee's is
            return None if self._sampling else self._random.get_state()

        @random_state.setter
        def random_state(self, state):
            emcee.EnsembleSampler.random_state.fset(self, state)

        def sample(self, *args, **kwargs):
            self._sampling = True
            try:
                yield from super().sample(*args, **kwargs)
            finally:
                self._sampling = False

        def compute_log_prob(self, coords):
            if np.any(np.isinf(coords)):
                raise ValueError("At least one parameter value was infinite")
            if np.any(np.isnan(coords)):
                raise ValueError("At least one parameter value was NaN")
            log_prob = np.asarray(self.log_prob_fn(coords), dtype=float).reshape(len(coords))
            if np.any(np.isnan(log_prob)):
                raise ValueError("Probability function returned NaN")
            return log_prob, None
    return BatchEnsembleSampler


def _kde_move():
    """emcee's ``KDEMove`` (proposals from a Gaussian KDE of the complementary half-ensemble,
    Scott's bandwidth), in plain numpy: the same proposal density and Hastings factor
    without scipy's per-call overhead."""
    from emcee.moves import RedBlueMove

    class KDEMove(_vector_accept(RedBlueMove)):
        def get_proposal(self, s, c, random):
            c = np.concatenate(c, axis=0)
            n, d = c.shape
            cc = c - c.mean(axis=0)
            cov = (cc.T @ cc) * (n ** (-2.0 / (d + 4)) / (n - 1))
            cov.flat[:: d + 1] += 1e-14 * np.trace(cov)
            chol = np.linalg.cholesky(cov)
            q = c[random.randint(n, size=len(s))] + random.randn(len(s), d) @ chol.T
            inv_t = np.linalg.inv(chol).T
            white = c @ inv_t
            # log KDE density (up to a constant, which cancels) at s and q in one pass
            z = np.concatenate((s, q)) @ inv_t
            d2 = (z * z).sum(axis=1)[:, None] - 2.0 * (z @ white.T) + (white * white).sum(axis=1)
            m = d2.min(axis=1)
            log_kde = -0.5 * m + np.log(np.exp(-0.5 * (d2 - m[:, None])).sum(axis=1))
            return q, log_kde[: len(s)] - log_kde[len(s):]
    return KDEMove()


def _moves(name: str):
    import emcee

    de, snooker, stretch = (_vector_accept(m) for m in (emcee.moves.DEMove, emcee.moves.DESnookerMove,
                                                          emcee.moves.StretchMove))
    if name == "stretch":
        return stretch()
    if name == "de":
        return de()
    if name == "de_snooker":
        return [(de(), 0.8), (snooker(), 0.2)]
    if name == "kde":
        return _kde_move()
    if name == "de_kde":
        return [(de(), 0.5), (_kde_move(), 0.5)]
    if name == "de_stretch":
        return [(de(), 0.8), (stretch(), 0.2)]
    raise ConfigurationError(f"unknown --emcee_moves {name!r}: use stretch, de, de_snooker, kde, "
                             "de_kde or de_stretch")

