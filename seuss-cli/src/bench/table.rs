//! The human tables of `seuss bench`: a title, a header row with units, columns aligned
//! (the first, a label, to the left; figures to the right), `-` where a figure is not
//! reported (a percentile the sample is too small for), notes below.
//!
//! ```text
//! startup nop
//! start          n  p50 (µs)  p90 (µs)  p99 (µs)  min (µs)  max (µs)
//! -------------  -  --------  --------  --------  --------  --------
//! hot            3       726         -         -       702       801
//!   node process / hot = 84.6x
//! ```

pub use seuss_hv::{format_fixed as fixed, format_int as int};
use serde_json::Value;

/// One table.
pub struct Table {
    title: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    notes: Vec<String>,
}

impl Table {
    /// A table with `header` (the first column is the row label).
    pub fn new(title: impl Into<String>, header: &[&str]) -> Self {
        Self { title: title.into(), header: header.iter().map(|h| (*h).to_owned()).collect(), rows: Vec::new(), notes: Vec::new() }
    }

    /// Adds a row (missing trailing cells print as `-`).
    pub fn row(&mut self, cells: Vec<String>) -> &mut Self {
        self.rows.push(cells);
        self
    }

    /// Adds a line below the table.
    pub fn note(&mut self, text: impl Into<String>) -> &mut Self {
        self.notes.push(text.into());
        self
    }

    /// The table as text, ending with a newline.
    pub fn render(&self) -> String {
        let cols = self.header.len().max(self.rows.iter().map(Vec::len).max().unwrap_or(0));
        let cell = |r: &Vec<String>, c: usize| r.get(c).cloned().unwrap_or_else(|| "-".into());
        let width = |s: &str| s.chars().count();
        let mut widths = vec![0; cols];
        for (c, w) in widths.iter_mut().enumerate() {
            *w = std::iter::once(self.header.get(c).map(String::as_str).unwrap_or(""))
                .map(width)
                .chain(self.rows.iter().map(|r| width(&cell(r, c))))
                .max()
                .unwrap_or(0);
        }
        let line = |cells: Vec<String>| {
            let mut out = String::new();
            for (c, (text, w)) in cells.iter().zip(&widths).enumerate() {
                let pad = " ".repeat(w - width(text));
                if c > 0 {
                    out.push_str("  ");
                }
                if c == 0 {
                    out.push_str(text);
                    out.push_str(&pad);
                } else {
                    out.push_str(&pad);
                    out.push_str(text);
                }
            }
            out.trim_end().to_owned() + "\n"
        };
        let mut out = format!("{}\n", self.title);
        out += &line((0..cols).map(|c| self.header.get(c).cloned().unwrap_or_default()).collect());
        out += &line(widths.iter().map(|w| "-".repeat(*w)).collect());
        for r in &self.rows {
            out += &line((0..cols).map(|c| cell(r, c)).collect());
        }
        for n in &self.notes {
            out += &format!("  {n}\n");
        }
        out
    }
}

/// A ratio from a JSON figure as `12.3x`; `-` when unknown ([`seuss_hv::format_times`]).
pub fn times(v: &Value) -> String {
    seuss_hv::format_times(v.as_f64())
}

/// The header cells of [`summary_cells`] with `unit` (e.g. `µs`, `ms`).
pub fn summary_header(unit: &str) -> Vec<String> {
    let mut h = vec!["n".to_owned()];
    h.extend(["p50", "p90", "p99", "min", "max"].iter().map(|k| format!("{k} ({unit})")));
    h
}

/// n, p50, p90, p99, min, max of a summary (`common::summary`, µs) divided by `scale`
/// (1 for µs, 1000 for ms); percentiles the sample does not support print as `-`.
pub fn summary_cells(s: &Value, scale: f64) -> Vec<String> {
    let f = |k: &str| s[k].as_f64().map(|v| v / scale);
    let show = |v: Option<f64>| if scale >= 1000.0 { fixed(v, 2) } else { int(v) };
    vec![
        s["n"].as_u64().unwrap_or(0).to_string(),
        show(f("median")),
        show(f("p90")),
        show(f("p99")),
        show(f("min")),
        show(f("max")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_missing_cells_show_a_dash() {
        let mut t = Table::new("t", &["start", "n", "p50 (µs)"]);
        t.row(vec!["hot".into(), "3".into(), int(Some(726.4))]);
        t.row(vec!["node process".into(), "20".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "start          n  p50 (µs)");
        assert_eq!(lines[3], "hot            3       726");
        assert_eq!(lines[4], "node process  20         -");
        assert_eq!(int(Some(1234567.0)), "1,234,567");
        assert_eq!(int(Some(-1000.0)), "-1,000");
        assert_eq!(int(None), "-");
    }

    #[test]
    fn percentiles_the_sample_lacks_are_dashes() {
        let s = serde_json::json!({"n": 3, "median": 1500.0, "min": 1000.0, "max": 2000.0});
        assert_eq!(summary_cells(&s, 1000.0), ["3", "1.50", "-", "-", "1.00", "2.00"]);
    }
}
