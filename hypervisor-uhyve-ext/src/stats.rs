//! Sample statistics for benchmark suites: the summary every figure of ours is reported with.
//!
//! Percentiles use the nearest-rank method and are given only where the sample supports them:
//! p90 from 10 samples, p99 from 100. The raw samples travel along, so a suite can compute
//! anything else.

use std::time::Duration;

use serde::Serialize;

/// Smallest sample that reports a p90.
pub const MIN_N_P90: usize = 10;
/// Smallest sample that reports a p99.
pub const MIN_N_P99: usize = 100;

/// A summary of durations, in microseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Smallest.
    pub min: f64,
    /// Median (p50; the mean of the two middle samples when n is even).
    pub median: f64,
    /// 90th percentile (n >= [`MIN_N_P90`]).
    pub p90: Option<f64>,
    /// 99th percentile (n >= [`MIN_N_P99`]).
    pub p99: Option<f64>,
    /// Largest.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n - 1 in the denominator; 0 for one sample).
    pub sd: f64,
}

impl Summary {
    /// Summarises `samples` (`None` for an empty sample).
    pub fn of(samples: &[Duration]) -> Option<Self> {
        let us: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        Self::of_values(&us)
    }

    /// Summarises plain values (any unit).
    pub fn of_values(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        let rank = |q: f64| v[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        let mean = v.iter().sum::<f64>() / n as f64;
        let sd = if n > 1 { (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt() } else { 0.0 };
        Some(Self {
            n,
            min: v[0],
            median,
            p90: (n >= MIN_N_P90).then(|| rank(0.9)),
            p99: (n >= MIN_N_P99).then(|| rank(0.99)),
            max: v[n - 1],
            mean,
            sd,
        })
    }
}

/// A figure as a whole number with thousands separators (`1,234,567`); `-` when missing.
pub fn format_int(v: Option<f64>) -> String {
    let Some(v) = v.filter(|v| v.is_finite()) else { return "-".into() };
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if v < 0.0 && digits != "0" {
        out.insert(0, '-');
    }
    out
}

/// A figure with `decimals` decimals; `-` when missing.
pub fn format_fixed(v: Option<f64>, decimals: usize) -> String {
    match v.filter(|v| v.is_finite()) {
        Some(v) => format!("{v:.decimals$}"),
        None => "-".into(),
    }
}

/// A ratio as `646x`, `84.6x` or `1.23x` (three significant digits); `-` when missing.
pub fn format_times(v: Option<f64>) -> String {
    match v {
        Some(r) if r >= 100.0 => format!("{r:.0}x"),
        Some(r) if r >= 10.0 => format!("{r:.1}x"),
        Some(r) => format!("{r:.2}x"),
        None => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_only_where_n_allows() {
        let s = Summary::of_values(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.n, s.min, s.median, s.max, s.mean), (3, 1.0, 2.0, 3.0, 2.0));
        assert_eq!((s.p90, s.p99), (None, None));
        assert!((s.sd - 1.0).abs() < 1e-12);
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = Summary::of_values(&v).unwrap();
        assert_eq!((s.median, s.p90, s.p99), (50.5, Some(90.0), Some(99.0)));
        assert!(Summary::of_values(&[]).is_none());
        let d = Summary::of(&[Duration::from_micros(5)]).unwrap();
        assert_eq!((d.median, d.sd), (5.0, 0.0));
    }
}
