"""Private training: user-level differential privacy (DP-SGD) for MF, NeuMF, MLP and Mult-VAE.

What is protected: everything a user contributed, i.e. all of that user's interactions (user-level,
not interaction-level, privacy). Each step samples users by Poisson sampling at rate q; every
sampled user contributes a bounded number of examples drawn from that user's data; the gradient of
that user's loss on the SHARED parameters is clipped to norm C (over all of them together), the
clipped gradients are summed and Gaussian noise σ·C is added. σ is calibrated by Opacus's RDP
accountant from (ε, δ, q, steps) and the run records the ε the accountant reports for the steps it
actually took. Model selection under DP keeps the last epoch (validation figures are shown, never
used to pick weights), and custom fast kernels run their reference paths.

Joint DP for the families with one vector per user (MF, NeuMF, MLP): the shared parameters (item
embeddings, towers, heads) are trained by DP-SGD as above, and are (ε, δ)-DP with respect to any
one user's data. Each user's OWN vector is updated only from that user's own examples (and the
already-private shared parameters), without clipping or noise. The guarantee is therefore joint
differential privacy: for every user u, the item side and every OTHER user's vector and
recommendations together are (ε, δ)-DP with respect to u's data; u's own vector and u's own
recommendations are computed from u's data and are not private from u. A checkpoint or embedding
export holds all user vectors, so it must be treated like the raw data; what may be shared without
exposing users is the item side (item embeddings, tower, head). Mult-VAE has no per-user parameters:
its whole model is (ε, δ)-DP.

Not covered: hyper-parameters tuned on the same users' validation data, and the data-independent
choices (catalogue, number of users) the model's shape reveals.
"""

from recsys_gui.core.training.privacy.objectives import SUPPORTED, objective_for
from recsys_gui.core.training.privacy.plan import PrivateTraining, check_private_settings
from recsys_gui.core.training.privacy.record import run_privacy

__all__ = ["SUPPORTED", "PrivateTraining", "check_private_settings", "objective_for", "run_privacy"]
