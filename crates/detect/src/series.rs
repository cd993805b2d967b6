//! Kusto (KQL) series functions with Kusto's exact semantics, as pinned down in
//! `shared/spec/kql-semantics.md` and its executable reference `kql_ref.py`.
//!
//! Times are `i64` in any unit (Trailhound uses nanoseconds since the Unix epoch); all time
//! arithmetic is exact integer arithmetic, as in Kusto, which counts 100 ns ticks.
//!
//! | Kusto | here |
//! | --- | --- |
//! | `bin(v, size)` | [`bin`] |
//! | `bin_at(v, size, fixed)` | [`bin_at`] |
//! | `x between (lo .. hi)` | [`between`] |
//! | `make-series … from a to b step s` (axis, binning) | [`make_series_len`], [`make_series_axis`], [`make_series_index`] |
//! | `series_outliers(x, "tukey", ignore)` | [`series_outliers_tukey`] |
//! | `series_outliers(x, "ctukey", ignore, lo, hi)` (formula only) | [`series_outliers_percentiles`] |
//! | `series_stats_dynamic(x)` | [`series_stats`] |
//! | `evaluate sliding_window_counts(…)` | [`sliding_window_counts`] |
//!
//! Decisions where Kusto's behaviour is not documented (see the spec's §11):
//! * `series_outliers` with a zero inter-quartile range divides by zero as IEEE doubles do
//!   (±∞ for values outside the quartiles) unless [`IqrZero::Zero`] is asked for.
//! * The ignore value is treated as missing: it scores 0 *and* is left out of the percentiles.

use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;

use serde::{Deserialize, Serialize};

/// Kusto `bin(value, size)`: rounds down (floor, also for negative values) to a multiple of `size`.
///
/// `size` must be positive.
pub fn bin(value: i64, size: i64) -> i64 {
    value.div_euclid(size) * size
}

/// Kusto `bin_at(value, size, fixed)`: bins of `size` aligned so that `fixed` is a bin start.
///
/// `size` must be positive.
pub fn bin_at(value: i64, size: i64, fixed: i64) -> i64 {
    fixed + (value - fixed).div_euclid(size) * size
}

/// Kusto `x between (lo .. hi)`: inclusive at both ends.
pub fn between(x: i64, lo: i64, hi: i64) -> bool {
    lo <= x && x <= hi
}

/// Number of bins of `make-series … from start to end step step`: every `start + k*step < end`
/// (`to` is exclusive; `start` is used exactly as given). Zero when `end <= start`.
///
/// `step` must be positive.
pub fn make_series_len(start: i64, end: i64, step: i64) -> usize {
    if end <= start {
        return 0;
    }
    // ceil((end - start) / step) for positive operands.
    let span = end - start;
    usize::try_from((span + step - 1) / step).unwrap_or(0)
}

/// The axis of `make-series … from start to end step step`: `start + k*step` for every `k >= 0`
/// with `start + k*step < end`.
pub fn make_series_axis(start: i64, end: i64, step: i64) -> Vec<i64> {
    (0..make_series_len(start, end, step))
        .map(|k| start + k as i64 * step)
        .collect()
}

/// The bin index of time `t` in `make-series … from start to end step step`, or `None` when `t`
/// lies outside `[start, end)` (such rows are dropped by `make-series`).
pub fn make_series_index(t: i64, start: i64, end: i64, step: i64) -> Option<usize> {
    if t < start || t >= end {
        return None;
    }
    let k = usize::try_from((t - start) / step).ok()?;
    (k < make_series_len(start, end, step)).then_some(k)
}

/// Percentile of already **sorted** values with linear interpolation between closest ranks
/// (numpy's default `linear` method): rank `r = pct/100 * (n-1)`, value
/// `v[floor r] + frac(r) * (v[floor r + 1] - v[floor r])`. This is how `series_outliers` computes
/// its percentiles (Kusto maintainer: "p10=2.7, p90=11"). `NaN` for an empty slice.
pub fn percentile_linear(sorted: &[f64], pct: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let r = pct / 100.0 * (n - 1) as f64;
    let lo = r.floor();
    let f = r - lo;
    let lo = (lo as usize).min(n - 1);
    let hi = (lo + 1).min(n - 1);
    sorted[lo] + f * (sorted[hi] - sorted[lo])
}

/// What `series_outliers` returns for a value outside the quartiles when the inter-quartile range
/// is zero. Kusto does not document it; see the spec's §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IqrZero {
    /// Plain IEEE division: `+∞` above the upper quartile, `−∞` below the lower one (default).
    #[default]
    Ieee,
    /// Score 0, as if the value were not an outlier.
    Zero,
}

/// Kusto `series_outliers(xs, "tukey", ignore)`: the classic Tukey score with the 25th/75th
/// percentiles (linear interpolation) of the values that are not `ignore` (nor NaN):
/// `(x − Q3)/(Q3 − Q1)` above Q3, `(x − Q1)/(Q3 − Q1)` below Q1, 0 between them and for ignored
/// values. With `Q3 == Q1`, `iqr_zero` decides (IEEE ±∞ by default).
pub fn series_outliers_tukey(xs: &[f64], ignore: Option<f64>, iqr_zero: IqrZero) -> Vec<f64> {
    series_outliers_percentiles(xs, ignore, 25.0, 75.0, 1.0, iqr_zero)
}

/// The general `series_outliers` formula with percentiles `lo_pct`/`hi_pct` and normalisation
/// factor `nf`: `(x − P_hi)/IQR*nf` above `P_hi`, `(x − P_lo)/IQR*nf` below `P_lo`, else 0.
/// `"tukey"` is `(25, 75, 1.0)`; Kusto's default `"ctukey"` is `(10, 90, 2.772605605507915)`
/// (the factor recovered from a maintainer-confirmed vector; other percentiles' factors are unknown).
/// Values equal to `ignore` and NaN count as missing: they score 0 and are not in the percentiles.
pub fn series_outliers_percentiles(
    xs: &[f64],
    ignore: Option<f64>,
    lo_pct: f64,
    hi_pct: f64,
    nf: f64,
    iqr_zero: IqrZero,
) -> Vec<f64> {
    let missing = |x: f64| x.is_nan() || ignore == Some(x);
    let mut vals: Vec<f64> = xs.iter().copied().filter(|&x| !missing(x)).collect();
    if vals.is_empty() {
        return vec![0.0; xs.len()];
    }
    vals.sort_by(f64::total_cmp);
    let p_lo = percentile_linear(&vals, lo_pct);
    let p_hi = percentile_linear(&vals, hi_pct);
    let iqr = p_hi - p_lo;
    xs.iter()
        .map(|&x| {
            if missing(x) {
                return 0.0;
            }
            let d = if x > p_hi {
                x - p_hi
            } else if x < p_lo {
                x - p_lo
            } else {
                return 0.0;
            };
            if iqr == 0.0 {
                match iqr_zero {
                    IqrZero::Ieee => f64::INFINITY.copysign(d),
                    IqrZero::Zero => 0.0,
                }
            } else {
                // This operation order reproduces Kusto's outputs bit for bit.
                d / iqr * nf
            }
        })
        .collect()
}

/// The bag returned by Kusto `series_stats_dynamic(xs)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeriesStats {
    /// Smallest value.
    pub min: f64,
    /// First position of the smallest value.
    pub min_idx: usize,
    /// Largest value.
    pub max: f64,
    /// First position of the largest value.
    pub max_idx: usize,
    /// Mean, `sum / n`.
    pub avg: f64,
    /// Sample variance (divides by `n − 1`), `(sumsq − sum*avg)/(n − 1)`; 0 when `n == 1`.
    pub variance: f64,
    /// Sample standard deviation, `sqrt(variance)`.
    pub stdev: f64,
    /// Sum of the values.
    pub sum: f64,
    /// Number of values.
    pub len: usize,
}

/// Kusto `series_stats_dynamic(xs)` with `ignore_nonfinite = false`, bit-exact with the documented
/// example: one pass of `sum` and `sumsq` in index order, `avg = sum/n`,
/// `variance = (sumsq − sum*avg)/(n − 1)`, `stdev = sqrt(variance)`.
/// `None` (Kusto: every statistic null) for an empty series or one holding NaN or ±∞.
pub fn series_stats(xs: &[f64]) -> Option<SeriesStats> {
    if xs.is_empty() || xs.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let (mut min, mut min_idx, mut max, mut max_idx) = (xs[0], 0, xs[0], 0);
    let (mut sum, mut sumsq) = (0.0f64, 0.0f64);
    for (i, &x) in xs.iter().enumerate() {
        if x < min {
            min = x;
            min_idx = i;
        }
        if x > max {
            max = x;
            max_idx = i;
        }
        sum += x;
        sumsq += x * x;
    }
    let n = xs.len();
    let avg = sum / n as f64;
    // n == 1 is undocumented in Kusto; 0 is the natural choice.
    let variance = if n > 1 {
        (sumsq - sum * avg) / (n - 1) as f64
    } else {
        0.0
    };
    Some(SeriesStats {
        min,
        min_idx,
        max,
        max_idx,
        avg,
        variance,
        stdev: variance.sqrt(),
        sum,
        len: n,
    })
}

/// One output row of [`sliding_window_counts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlidingWindowRow<D> {
    /// The timeline point: a bin start `start + k*bin`.
    pub timeline: i64,
    /// The dimension values of the row.
    pub dims: D,
    /// Records in the window (duplicates included).
    pub count: u64,
    /// Distinct ids in the window (exact; Kusto's `dcount` is exact at these sizes).
    pub dcount: u64,
}

/// Kusto `evaluate sliding_window_counts(Id, Timeline, Start, End, LookbackWindow, Bin, dims…)`
/// over `(time, dims, id)` records.
///
/// Bins are aligned to `start` (`bin_at`). The row for timeline point `p` covers the records whose
/// own bin lies in `[p − LookbackWindow + Bin, p]`: the `w = lookback / bin` bins ending with `p`
/// (the lookback is rounded down to a multiple of `bin`, at least one bin). Points run from `start`
/// to `end` inclusive; only `(point, dims)` pairs with at least one record appear. Records outside
/// `[start, end]` are ignored. Rows are ordered by `(dims, timeline)`.
pub fn sliding_window_counts<D, K, I>(
    records: I,
    start: i64,
    end: i64,
    lookback: i64,
    bin: i64,
) -> Vec<SlidingWindowRow<D>>
where
    D: Ord + Clone,
    K: Hash + Eq + Clone,
    I: IntoIterator<Item = (i64, D, K)>,
{
    let w = (lookback / bin).max(1);
    let last_k = (end - start).div_euclid(bin);
    let mut acc: BTreeMap<(D, i64), (u64, HashSet<K>)> = BTreeMap::new();
    for (t, dims, id) in records {
        if t < start || t > end {
            continue;
        }
        let k0 = (t - start).div_euclid(bin);
        for k in k0..=(k0 + w - 1).min(last_k) {
            let cell = acc.entry((dims.clone(), k)).or_default();
            cell.0 += 1;
            cell.1.insert(id.clone());
        }
    }
    acc.into_iter()
        .map(|((dims, k), (count, ids))| SlidingWindowRow {
            timeline: start + k * bin,
            dims,
            count,
            dcount: ids.len() as u64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000_000;
    const HOUR: i64 = 3600 * SECOND;
    const DAY: i64 = 24 * HOUR;

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    fn days(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    fn dt(y: i64, m: i64, d: i64, h: i64, mi: i64) -> i64 {
        days(y, m, d) * DAY + h * HOUR + mi * 60 * SECOND
    }

    #[test]
    fn bins() {
        assert_eq!(bin(7, 5), 5);
        assert_eq!(bin(-1, 5), -5);
        assert_eq!(bin(dt(2017, 1, 3, 3, 0), DAY), dt(2017, 1, 3, 0, 0));
        // bin_at docs examples: bin_at(6.5, 2.5, 7) = 4.5; bin_at(datetime(2017-05-15 10:20), 1d,
        // datetime(1970-01-01 12:00)) = 2017-05-14 12:00.
        assert_eq!(bin_at(65, 25, 70), 45);
        assert_eq!(
            bin_at(dt(2017, 5, 15, 10, 20), DAY, dt(1970, 1, 1, 12, 0)),
            dt(2017, 5, 14, 12, 0)
        );
        assert_eq!(bin_at(10, 5, 10), 10);
        assert!(between(50, 50, 55) && between(55, 50, 55) && !between(56, 50, 55));
        let hits: Vec<i64> = (1..=100).filter(|&x| between(x, 50, 55)).collect();
        assert_eq!(hits, vec![50, 51, 52, 53, 54, 55]);
    }

    #[test]
    fn percentiles_linear() {
        // Stack Overflow 75264555: p10 = 2.7, p90 = 11 (linear interpolation).
        let mut v = vec![
            -3.0, 2.4, 15.0, 3.9, 5.0, 6.0, 4.5, 5.2, 3.0, 4.0, 5.0, 16.0, 7.0, 5.0, 5.0, 4.0,
        ];
        v.sort_by(f64::total_cmp);
        assert!((percentile_linear(&v, 10.0) - 2.7).abs() < 1e-12);
        assert!((percentile_linear(&v, 90.0) - 11.0).abs() < 1e-12);
        let one_to_ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile_linear(&one_to_ten, 25.0), 3.25);
        assert_eq!(percentile_linear(&one_to_ten, 75.0), 7.75);
        assert_eq!(percentile_linear(&one_to_ten, 0.0), 1.0);
        assert_eq!(percentile_linear(&one_to_ten, 100.0), 10.0);
        assert_eq!(percentile_linear(&[4.0], 75.0), 4.0);
        assert!(percentile_linear(&[], 50.0).is_nan());
    }

    #[test]
    fn series_stats_docs_example_bit_exact() {
        let x: Vec<f64> = [23, 46, 23, 87, 4, 8, 3, 75, 2, 56, 13, 75, 32, 16, 29]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let s = series_stats(&x).unwrap();
        assert_eq!(s.min, 2.0);
        assert_eq!(s.min_idx, 8);
        assert_eq!(s.max, 87.0);
        assert_eq!(s.max_idx, 3);
        assert_eq!(s.avg, 32.8);
        #[allow(clippy::excessive_precision)]
        let (stdev, variance) = (28.503633853548269, 812.45714285714291);
        assert_eq!(s.stdev.to_bits(), f64::to_bits(stdev));
        assert_eq!(s.variance.to_bits(), f64::to_bits(variance));
        assert_eq!(s.sum, 492.0);
        assert_eq!(s.len, 15);
        // The table form's display precision.
        assert_eq!(format!("{:.13}", s.stdev), "28.5036338535483");
        assert_eq!(format!("{:.12}", s.variance), "812.457142857143");
    }

    #[test]
    fn series_stats_edges() {
        assert_eq!(series_stats(&[]), None);
        assert_eq!(series_stats(&[1.0, f64::INFINITY]), None);
        assert_eq!(series_stats(&[1.0, f64::NAN]), None);
        let one = series_stats(&[3.0]).unwrap();
        assert_eq!((one.avg, one.variance, one.stdev), (3.0, 0.0, 0.0));
        // First position of ties.
        let s = series_stats(&[1.0, 0.0, 5.0, 0.0, 5.0]).unwrap();
        assert_eq!((s.min_idx, s.max_idx), (1, 2));
        // The rule's single spike: 335 zeros and one h; z is sqrt(336)*335/336 for any h.
        for h in [2.0, 3.0, 4.0] {
            let mut x = vec![0.0; 336];
            x[335] = h;
            let s = series_stats(&x).unwrap();
            let z = (h - s.avg) / s.stdev;
            assert!((z - 18.275_748_307_264_36).abs() < 1e-12, "{z}");
            assert!(s.variance < 0.05);
        }
        let mut x = vec![0.0; 336];
        x[335] = 5.0;
        assert!(series_stats(&x).unwrap().variance > 0.05);
    }

    #[test]
    fn ctukey_maintainer_vector_bit_exact() {
        let input = [
            -3.0, 2.4, 15.0, 3.9, 5.0, 6.0, 4.5, 5.2, 3.0, 4.0, 5.0, 16.0, 7.0, 5.0, 5.0, 4.0,
        ];
        #[allow(clippy::excessive_precision)]
        let expected = [
            -1.9040785483608571,
            -0.10021466044004519,
            1.3361954725339347,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            1.6702443406674186,
            0.0,
            0.0,
            0.0,
            0.0,
        ];
        let got =
            series_outliers_percentiles(&input, None, 10.0, 90.0, 2.772605605507915, IqrZero::Ieee);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&expected));
    }

    #[test]
    fn tukey_derived_vectors() {
        let mut x: Vec<f64> = (1..=9).map(f64::from).collect();
        x.push(100.0);
        let t = series_outliers_tukey(&x, None, IqrZero::Ieee);
        assert_eq!(t[9], (100.0 - 7.75) / 4.5);
        assert_eq!(t[9], 20.5);
        assert_eq!(t[0], -(3.25 - 1.0) / 4.5);
        assert_eq!(t[0], -0.5);
        assert_eq!(t[4], 0.0);

        // [0]*20 + [5, 1, 0, 2] with ignore 1.0: +inf at 5 and 2, 0 elsewhere (IEEE decision).
        let mut sparse = vec![0.0; 20];
        sparse.extend([5.0, 1.0, 0.0, 2.0]);
        let t = series_outliers_tukey(&sparse, Some(1.0), IqrZero::Ieee);
        assert_eq!(t[20], f64::INFINITY);
        assert_eq!(t[21], 0.0);
        assert_eq!(t[23], f64::INFINITY);
        assert!(t[..20].iter().all(|&v| v == 0.0) && t[22] == 0.0);
        // The switch gives 0 instead.
        let z = series_outliers_tukey(&sparse, Some(1.0), IqrZero::Zero);
        assert!(z.iter().all(|&v| v == 0.0));
        // Below the quartiles with IQR = 0: −inf.
        let mut low = vec![3.0; 10];
        low[4] = 0.0;
        let t = series_outliers_tukey(&low, None, IqrZero::Ieee);
        assert_eq!(t[4], f64::NEG_INFINITY);
    }

    #[test]
    fn tukey_ignore_value_leaves_the_percentiles() {
        // Without the ignore value the 1s would set Q3 = 1 and give a finite score.
        let mut x = vec![0.0; 6];
        x.extend([1.0; 6]);
        x.push(4.0);
        let ignored = series_outliers_tukey(&x, Some(1.0), IqrZero::Ieee);
        assert_eq!(ignored[12], f64::INFINITY);
        assert!(ignored[6..12].iter().all(|&v| v == 0.0));
        let kept = series_outliers_tukey(&x, None, IqrZero::Ieee);
        // sorted: six 0s, six 1s, 4 -> Q1 = 0, Q3 = 1 -> (4 - 1)/1 = 3
        assert_eq!(kept[12], 3.0);
        // All values ignored: all scores 0; NaN counts as missing.
        assert_eq!(
            series_outliers_tukey(&[1.0, 1.0], Some(1.0), IqrZero::Ieee),
            vec![0.0, 0.0]
        );
        let with_nan = series_outliers_tukey(
            &[f64::NAN, 0.0, 0.0, 0.0, 0.0, 0.0, 9.0],
            None,
            IqrZero::Ieee,
        );
        assert_eq!(with_nan[0], 0.0);
        assert_eq!(with_nan[6], f64::INFINITY);
        assert!(series_outliers_tukey(&[], None, IqrZero::Ieee).is_empty());
    }

    #[test]
    fn iqr_zero_serde_names() {
        assert_eq!(serde_json::to_string(&IqrZero::Ieee).unwrap(), "\"ieee\"");
        assert_eq!(
            serde_json::from_str::<IqrZero>("\"zero\"").unwrap(),
            IqrZero::Zero
        );
        assert_eq!(IqrZero::default(), IqrZero::Ieee);
    }

    #[test]
    fn make_series_docs_example_1() {
        // avg(metric) from 2017-01-01 to 2017-01-10 step 1d; the 2016-12-31 and 2017-01-10T05:00
        // rows fall outside [from, to) and are dropped.
        let data = [
            (dt(2016, 12, 31, 6, 0), 50.0),
            (dt(2017, 1, 1, 0, 0), 4.0),
            (dt(2017, 1, 2, 0, 0), 3.0),
            (dt(2017, 1, 3, 0, 0), 4.0),
            (dt(2017, 1, 3, 3, 0), 6.0),
            (dt(2017, 1, 5, 0, 0), 8.0),
            (dt(2017, 1, 5, 13, 40), 13.0),
            (dt(2017, 1, 6, 0, 0), 4.0),
            (dt(2017, 1, 7, 0, 0), 3.0),
            (dt(2017, 1, 8, 0, 0), 8.0),
            (dt(2017, 1, 8, 21, 0), 8.0),
            (dt(2017, 1, 9, 0, 0), 2.0),
            (dt(2017, 1, 9, 12, 0), 11.0),
            (dt(2017, 1, 10, 5, 0), 5.0),
        ];
        let (from, to) = (dt(2017, 1, 1, 0, 0), dt(2017, 1, 10, 0, 0));
        let axis = make_series_axis(from, to, DAY);
        assert_eq!(axis.len(), 9);
        assert_eq!(axis[0], from);
        assert_eq!(axis[8], dt(2017, 1, 9, 0, 0));
        let mut sums = vec![(0.0, 0u32); axis.len()];
        for (t, v) in data {
            if let Some(k) = make_series_index(t, from, to, DAY) {
                sums[k].0 += v;
                sums[k].1 += 1;
            }
        }
        let avg: Vec<f64> = sums
            .iter()
            .map(|&(s, n)| if n == 0 { 0.0 } else { s / f64::from(n) })
            .collect();
        assert_eq!(avg, vec![4.0, 3.0, 5.0, 0.0, 10.5, 4.0, 3.0, 8.0, 6.5]);
    }

    #[test]
    fn make_series_docs_example_3_follows_from() {
        // 7d step from Monday 2025-01-06 to 2025-02-09: bins follow `from`, not the epoch.
        let (from, to) = (dt(2025, 1, 6, 0, 0), dt(2025, 2, 9, 0, 0));
        let axis = make_series_axis(from, to, 7 * DAY);
        let expected: Vec<i64> = [(1, 6), (1, 13), (1, 20), (1, 27), (2, 3)]
            .iter()
            .map(|&(m, d)| dt(2025, m, d, 0, 0))
            .collect();
        assert_eq!(axis, expected);
        let mut value = vec![0; axis.len()];
        for (t, v) in [
            (dt(2025, 1, 7, 0, 0), 10),
            (dt(2025, 1, 16, 0, 0), 20),
            (dt(2025, 2, 1, 0, 0), 30),
        ] {
            value[make_series_index(t, from, to, 7 * DAY).unwrap()] += v;
        }
        assert_eq!(value, vec![10, 20, 0, 30, 0]);
    }

    #[test]
    fn rule_grid_336_bins_last_is_ago_1h() {
        // A deliberately non-aligned now: 2025-09-23T10:37:12.3456789Z.
        let now = dt(2025, 9, 23, 10, 37) + 12 * SECOND + 345_678_900;
        let axis = make_series_axis(now - 14 * DAY, now, HOUR);
        assert_eq!(axis.len(), 336);
        assert_eq!(axis[0], now - 14 * DAY);
        assert_eq!(axis[335], now - HOUR);
        let last: Vec<i64> = axis
            .iter()
            .copied()
            .filter(|&a| between(a, now - HOUR, now))
            .collect();
        assert_eq!(last, vec![now - HOUR]);
        // `to` is exclusive: an event at exactly `now` is in no bin; one just before is in the last.
        assert_eq!(make_series_index(now, now - 14 * DAY, now, HOUR), None);
        assert_eq!(
            make_series_index(now - 1, now - 14 * DAY, now, HOUR),
            Some(335)
        );
        assert_eq!(
            make_series_index(now - 14 * DAY, now - 14 * DAY, now, HOUR),
            Some(0)
        );
        assert_eq!(
            make_series_index(now - 14 * DAY - 1, now - 14 * DAY, now, HOUR),
            None
        );
        assert_eq!(make_series_len(0, 0, HOUR), 0);
        assert_eq!(make_series_len(0, 1, HOUR), 1);
        assert_eq!(make_series_len(0, HOUR + 1, HOUR), 2);
    }

    #[test]
    fn sliding_window_counts_docs_example() {
        let rows = [
            ("Bob", 1),
            ("David", 1),
            ("David", 1),
            ("John", 1),
            ("Bob", 1),
            ("Ananda", 2),
            ("Atul", 2),
            ("John", 2),
            ("Ananda", 3),
            ("Atul", 3),
            ("Atul", 3),
            ("John", 3),
            ("Bob", 3),
            ("Betsy", 4),
            ("Bob", 5),
        ];
        let out = sliding_window_counts(
            rows.iter().map(|&(who, d)| (dt(2017, 8, d, 0, 0), (), who)),
            dt(2017, 8, 1, 0, 0),
            dt(2017, 8, 7, 0, 0),
            3 * DAY,
            DAY,
        );
        let got: Vec<(i64, u64, u64)> = out
            .iter()
            .map(|r| {
                (
                    (r.timeline - dt(2017, 8, 1, 0, 0)) / DAY + 1,
                    r.count,
                    r.dcount,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 5, 3),
                (2, 8, 5),
                (3, 13, 5),
                (4, 9, 5),
                (5, 7, 5),
                (6, 2, 2),
                (7, 1, 1)
            ]
        );
    }

    #[test]
    fn sliding_window_counts_is_start_aligned_with_dims() {
        // Start at 00:30; bin 1h; lookback 2h. Records at 01:29 (bin 0) and 02:31 (bin 2) are 62
        // minutes apart but two bins apart, so never in one 2-bin window; 00:31 and 01:29 are in
        // bins 0 and 0.
        let start = dt(2024, 1, 1, 0, 30);
        let recs = vec![
            (dt(2024, 1, 1, 1, 29), "k1", "US"),
            (dt(2024, 1, 1, 2, 31), "k1", "DE"),
            (dt(2024, 1, 1, 0, 31), "k2", "US"),
            (dt(2024, 1, 1, 1, 29), "k2", "DE"),
            (start - 1, "k2", "FR"), // before Start: ignored
        ];
        let out = sliding_window_counts(recs, start, start + 4 * HOUR, 2 * HOUR, HOUR);
        let max_dcount = |k: &str| {
            out.iter()
                .filter(|r| r.dims == k)
                .map(|r| r.dcount)
                .max()
                .unwrap()
        };
        assert_eq!(max_dcount("k1"), 1);
        assert_eq!(max_dcount("k2"), 2);
        // End is inclusive: a record at End yields a row at End.
        let out = sliding_window_counts(
            [(start + 4 * HOUR, (), 1)],
            start,
            start + 4 * HOUR,
            2 * HOUR,
            HOUR,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].timeline, start + 4 * HOUR);
    }
}
