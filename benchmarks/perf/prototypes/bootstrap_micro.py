"""Paired bootstrap costs at n = 5,000, B = 2,000: evalkit.stats as it is, and multinomial resampling of the
joint (true, pred_a, pred_b) cells, which has the same distribution for confusion-matrix statistics."""
import sys, time
import numpy as np
from evalkit.stats import paired_bootstrap_many, bootstrap_median_ci
from evalkit.metrics.classification import batch_scores
n, B = 5000, 2000
rng = np.random.default_rng(0)
t = rng.integers(0, 2, n); pa = np.where(rng.random(n) < .8, t, 1 - t); pr = np.where(rng.random(n) < .7, t, 1 - t)
def stats(t, p): return batch_scores(t, p, 2, positive=0)
def deltas(t, a, r):
    x, y = batch_scores(t, a, 2, positive=0), batch_scores(t, r, 2, positive=0)
    return {k: x[k] - y[k] for k in x}
def cpu(f, reps=3):
    best = 9e9
    for _ in range(reps):
        s = time.process_time(); f(); best = min(best, time.process_time() - s)
    return best
print(f"paired_bootstrap_many, 1 model's metrics, n={n}, B={B}: {cpu(lambda: paired_bootstrap_many(stats, t, pa, n_resamples=B, vectorized=True)):.3f} s")
print(f"paired_bootstrap_many, delta base vs ft: {cpu(lambda: paired_bootstrap_many(deltas, t, pa, pr, n_resamples=B, null_value=0.0, vectorized=True)):.3f} s")
lat = rng.gamma(2, 0.1, n)
print(f"bootstrap_median_ci latency n={n}: {cpu(lambda: bootstrap_median_ci(lat, n_resamples=B)):.3f} s")
# multinomial equivalent: resample the joint cells (t, pa, pr) instead of the n items
def multinomial_delta():
    K = 2 * 3 * 3
    cell = t * 9 + pa * 3 + pr
    counts = np.bincount(cell, minlength=K)
    draws = rng.multinomial(n, counts / n, size=B)  # (B, K): a resample's joint cell counts
    # rebuild per-resample confusion matrices of each model from the joint counts
    cm_a = np.zeros((B, 2, 3)); cm_r = np.zeros((B, 2, 3))
    for k in range(K):
        tt, a, r = k // 9, (k // 3) % 3, k % 3
        cm_a[:, tt, a] += draws[:, k]; cm_r[:, tt, r] += draws[:, k]
    acc = (cm_a[:, 0, 0] + cm_a[:, 1, 1]) / n - (cm_r[:, 0, 0] + cm_r[:, 1, 1]) / n
    return np.quantile(acc, [0.025, 0.975])
print(f"multinomial resampling of joint cells, same delta CI: {cpu(multinomial_delta):.4f} s")
