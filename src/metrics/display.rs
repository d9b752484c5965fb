//! Numbers and tables for people: one rule for every command's output, so
//! `simulate`, `compare`, `sweep` and `tune` print a value the same way.
//! Files for machines (JSON, CSV, Parquet) keep full precision; only the
//! terminal is rounded here.
//!
//! - A value shows four significant digits, an integer all of its digits,
//!   and a magnitude below 0.001 in scientific notation (a failure rate of
//!   6×10⁻⁷ is `6.00e-7`, not `0.0000`).
//! - A mean with its 95% half-width shows the half-width to two
//!   significant digits and the mean to the same decimal place, so a
//!   column never mixes `686.5 ± 8.8205`; with one replication there is
//!   no interval and the cell says so instead of `± NaN`.

use std::fmt::Write;

/// Below this magnitude a value is written in scientific notation.
const TINY: f64 = 1e-3;
/// Beyond this many decimals a mean ± half-width goes scientific.
const MAX_DECIMALS: i32 = 6;

/// A value with four significant digits (see the module's rules); `-` when
/// undefined (NaN, as a rate over nothing).
pub fn value(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if v.fract() == 0.0 && v.abs() < 9e15 {
        return format!("{}", v as i64);
    }
    if v.abs() < TINY {
        return format!("{v:.2e}");
    }
    let decimals = (3 - v.abs().log10().floor() as i32).max(0) as usize;
    format!("{v:.decimals$}")
}

/// `mean ± half` at the half-width's precision; `mean ± n/a (1
/// replication)` when there is no interval.
pub fn mean_ci(mean: f64, half: f64) -> String {
    if !mean.is_finite() {
        return "-".into();
    }
    if !half.is_finite() {
        return format!("{} ± n/a (1 replication)", value(mean));
    }
    if half == 0.0 {
        return format!("{} ± 0", value(mean));
    }
    let decimals = 1 - half.log10().floor() as i32;
    if decimals > MAX_DECIMALS || (mean != 0.0 && mean.abs() < TINY) {
        return format!("{mean:.2e} ± {half:.1e}");
    }
    let d = decimals.max(0) as usize;
    format!("{mean:.d$} ± {half:.d$}")
}

/// A signed difference ± its half-width, as [`mean_ci`] with the sign.
pub fn diff_ci(diff: f64, half: f64) -> String {
    let s = mean_ci(diff, half);
    if diff > 0.0 || (diff == 0.0 && !s.starts_with('-')) {
        format!("+{s}")
    } else {
        s
    }
}

/// How a column lines up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table whose columns are as wide as their widest cell (counted in
/// characters, so `±` is one), with a rule under the header.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: &[(&str, Align)]) -> Self {
        Self {
            header: columns.iter().map(|(h, _)| h.to_string()).collect(),
            align: columns.iter().map(|(_, a)| *a).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.header.len(), String::new());
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table, each line indented by `indent` spaces.
    pub fn render(&self, indent: usize) -> String {
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(c));
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String]| {
            let mut text = " ".repeat(indent);
            for (i, c) in cells.iter().enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                let pad = " ".repeat(widths[i] - width(c));
                match self.align[i] {
                    Align::Left => {
                        text.push_str(c);
                        text.push_str(&pad);
                    }
                    Align::Right => {
                        text.push_str(&pad);
                        text.push_str(c);
                    }
                }
            }
            let _ = writeln!(out, "{}", text.trim_end());
        };
        line(&mut out, &self.header);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(&mut out, &rule);
        for row in &self.rows {
            line(&mut out, row);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_four_significant_digits_and_go_scientific_when_tiny() {
        assert_eq!(value(348210.0), "348210");
        assert_eq!(value(0.40904), "0.4090");
        assert_eq!(value(16.11361), "16.11");
        assert_eq!(value(3748.43), "3748");
        assert_eq!(value(686.54), "686.5");
        assert_eq!(value(6.0e-7), "6.00e-7");
        assert_eq!(value(-0.25), "-0.2500");
        assert_eq!(value(f64::NAN), "-");
        assert_eq!(value(0.0), "0");
    }

    #[test]
    fn a_mean_shows_the_precision_of_its_interval() {
        assert_eq!(mean_ci(686.5, 8.8205), "686.5 ± 8.8");
        assert_eq!(mean_ci(0.409_04, 0.001_234), "0.4090 ± 0.0012");
        assert_eq!(mean_ci(142_430.4, 1_234.0), "142430 ± 1234");
        assert_eq!(mean_ci(6.0e-7, 1.2e-6), "6.00e-7 ± 1.2e-6");
        assert_eq!(mean_ci(0.0005, 0.01), "5.00e-4 ± 1.0e-2");
        assert_eq!(mean_ci(12.0, f64::NAN), "12 ± n/a (1 replication)");
        assert_eq!(mean_ci(12.5, 0.0), "12.50 ± 0");
        assert_eq!(mean_ci(f64::NAN, 1.0), "-");
        assert_eq!(diff_ci(3.25, 0.5), "+3.25 ± 0.50");
        assert_eq!(diff_ci(-3.25, 0.5), "-3.25 ± 0.50");
    }

    #[test]
    fn columns_line_up_whatever_the_cells_hold() {
        let mut t = Table::new(&[("metric", Align::Left), ("mean ± 95% CI", Align::Right)]);
        t.row(vec!["accepted".into(), "142430 ± 1234".into()]);
        t.row(vec!["utilization".into(), "0.31 ± 0.01".into()]);
        let text = t.render(2);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        let ends: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
        assert!(ends.iter().all(|&e| e == ends[0]), "{text}");
        assert!(lines[1].starts_with("  ------"), "{text}");
        assert!(lines[3].starts_with("  utilization"), "{text}");
    }
}
