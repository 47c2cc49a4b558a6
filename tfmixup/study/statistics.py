"""The study's statistics, in one place: t intervals and tests, Welch, Holm, a two-way bootstrap, MDEs, class errors.

Runs are paired by seed (same seed: same initial weights and first pass):
`paired` and `error_ratio` compare two methods over the seeds both have;
differences between datasets compare independent runs (Welch). The two-way
bootstrap resamples seeds and test images together, so that the sampling
error of the test set (a few thousand images) is inside the interval too.
"""

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats


def t_interval(values: Sequence[float]) -> dict:
  """Mean of `values` with a 95% t interval and the two-sided p of "mean = 0".

  Returns:
    {"mean", "low", "high", "n", "sd", "se", "df", "p"} (interval, sd, se and p
    NaN for n < 2; p 1.0 when every value is 0, NaN-free).
  """
  values = np.asarray(values, float)
  n = len(values)
  mean = float(np.mean(values)) if n else float("nan")
  if n < 2:
    nan = float("nan")
    return {"mean": mean, "low": nan, "high": nan, "n": n, "sd": nan, "se": nan, "df": nan, "p": nan}
  sd = float(np.std(values, ddof=1))
  se = sd / np.sqrt(n)
  half = float(stats.t.ppf(0.975, n - 1) * se)
  p = float(2 * stats.t.sf(abs(mean) / se, n - 1)) if se > 0 else (1.0 if mean == 0 else 0.0)
  return {"mean": mean, "low": mean - half, "high": mean + half, "n": n, "sd": sd, "se": float(se), "df": n - 1, "p": p}


def pairs_by_seed(treated: Sequence[dict], control: Sequence[dict]) -> list[tuple[dict, dict]]:
  """(treated run, control run of the same seed), in the treated runs' order; a seed without a control is left out."""
  by_seed = {r["config"]["seed"]: r for r in control}
  return [(r, by_seed[r["config"]["seed"]]) for r in treated if r["config"]["seed"] in by_seed]


def per_seed(treated: Sequence[dict], control: Sequence[dict], outcome: str | Callable[[dict], float]) -> np.ndarray:
  """Per seed (`pairs_by_seed`), `outcome` of the treated run minus the control run's.

  Args:
    treated: saved runs (result dicts with `config.seed`).
    control: saved runs of the same seeds.
    outcome: a result key (e.g. "test_accuracy") or a function of a result.
  """
  value = (lambda r: r[outcome]) if isinstance(outcome, str) else outcome
  return np.array([value(t) - value(c) for t, c in pairs_by_seed(treated, control)])


def paired(
  treated: Sequence[dict], control: Sequence[dict], outcome: str | Callable[[dict], float] = "test_accuracy"
) -> dict:
  """Mean per-seed difference treated - control with a 95% t interval and its p (`t_interval` of `per_seed`).

  Pairing by seed removes the seed-to-seed noise both runs share.
  """
  return t_interval(per_seed(treated, control, outcome))


def error_ratio(treated: Sequence[dict], control: Sequence[dict]) -> dict:
  """Geometric mean over seeds of treated's test error / control's, with a 95% interval (log scale).

  A run with no test error at all is given half an error (1 / (2·N)), so the log is finite.

  Returns:
    {"mean", "low", "high", "n"}.
  """

  def error(r: dict) -> float:
    return max(1 - r["test_accuracy"], 0.5 / r["test_examples"])

  i = t_interval(np.array([np.log(error(t) / error(c)) for t, c in pairs_by_seed(treated, control)]))
  return {
    "mean": float(np.exp(i["mean"])),
    "low": float(np.exp(i["low"])),
    "high": float(np.exp(i["high"])),
    "n": i["n"],
  }


def welch(a: Sequence[float], b: Sequence[float]) -> dict:
  """Mean(a) - mean(b) with a 95% Welch interval and its two-sided p (independent samples).

  Returns:
    {"mean", "low", "high", "n" (the smaller sample), "se", "df" (Welch-Satterthwaite), "p"}.
  """
  a, b = np.asarray(a, float), np.asarray(b, float)
  va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
  se = float(np.sqrt(va + vb))
  df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if se > 0 else 1.0
  mean = float(np.mean(a) - np.mean(b))
  half = float(stats.t.ppf(0.975, df) * se)
  p = float(2 * stats.t.sf(abs(mean) / se, df)) if se > 0 else (1.0 if mean == 0 else 0.0)
  n = min(len(a), len(b))
  return {"mean": mean, "low": mean - half, "high": mean + half, "n": n, "se": se, "df": float(df), "p": p}


def holm(pvalues: Sequence[float]) -> list[float]:
  """Holm's step-down adjusted p-values (familywise error), in the input's order.

  The i-th smallest p is multiplied by (m - i), then made non-decreasing and capped at 1.
  """
  p = np.asarray(pvalues, float)
  m = len(p)
  order = np.argsort(p, kind="stable")
  adjusted = np.empty(m)
  running = 0.0
  for rank, i in enumerate(order):
    running = max(running, min(1.0, (m - rank) * p[i]))
    adjusted[i] = running
  return adjusted.tolist()


def two_way_bootstrap(differences: np.ndarray, resamples: int = 2000, seed: int = 0) -> dict:
  """The mean of a seeds × test images matrix, with a 95% percentile interval resampling both.

  Args:
    differences: float `[S, T]`: per seed (paired runs) and test image, the
      treated run's outcome minus the control's (e.g. correct: 1/0).
    resamples: bootstrap draws.
    seed: the generator's seed (the interval is reproducible).

  Returns:
    {"mean", "low", "high", "n": S, "images": T}.
  """
  d = np.asarray(differences, float)
  s, t = d.shape
  rng = np.random.default_rng(seed)
  w_seed = rng.multinomial(s, np.full(s, 1 / s), size=resamples)  # [R, S]
  w_image = rng.multinomial(t, np.full(t, 1 / t), size=resamples)  # [R, T]
  means = np.einsum("rs,st,rt->r", w_seed, d, w_image) / (s * t)
  low, high = np.percentile(means, [2.5, 97.5])
  return {"mean": float(d.mean()), "low": float(low), "high": float(high), "n": s, "images": t}


def mde(se: float, df: float, alpha: float, power: float = 0.8) -> float:
  """The smallest true difference a two-sided t test at `alpha` detects with `power`.

  The usual approximation without the noncentral t: (t_{1-α/2} + t_{power}) · se.

  Args:
    se: the standard error of the difference (paired: sd / sqrt(n); Welch: sqrt(sd_a² / n_a + sd_b² / n_b)).
    df: its degrees of freedom (paired: n - 1).
    alpha: the test's two-sided level (α / m at Holm's strictest step).
    power: the chance of p < alpha when the true difference is the returned one.
  """
  return float((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * se)


def class_errors(result: dict) -> np.ndarray:
  """Per class (in the run's class order), the share of its test images called anything else, `[K]`."""
  counts = np.asarray(result["test_confusion"], float)
  return 1.0 - np.diag(counts) / counts.sum(axis=1)


def class_error(result: dict, label: int) -> float:
  """The test error rate of one class, by its original label (a `class_names` entry)."""
  return float(class_errors(result)[[str(c) for c in result["class_names"]].index(str(label))])
