//! The weekly chart: acceptance and broken promises by checkout week, from
//! `simulate --out-dir`'s weekly.csv — a season's peak as a planner sees it.

use crate::plot::{s, Res};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// One row of weekly.csv.
#[derive(Debug, Clone, PartialEq)]
pub struct Week {
    pub start: String,
    /// Days of the week inside the measured window (7 for a whole week).
    pub days: f64,
    pub offered: f64,
    pub acceptance: f64,
    pub acceptance_ci: f64,
    pub broken: f64,
    pub broken_ci: f64,
}

pub fn read(path: &Path) -> anyhow::Result<Vec<Week>> {
    let (_, rows) = super::read_csv(path)?;
    let mut weeks = Vec::with_capacity(rows.len());
    for row in &rows {
        // An empty rate (no orders that week) reads as NaN, not an error.
        let num = |k: &str| -> anyhow::Result<f64> {
            match row.get(k).map(String::as_str) {
                Some("") => Ok(f64::NAN),
                _ => super::num(row, k, path),
            }
        };
        weeks.push(Week {
            start: row.get("start").cloned().unwrap_or_default(),
            days: num("days")?,
            offered: num("offered")?,
            acceptance: num("acceptance_rate")?,
            acceptance_ci: num("acceptance_rate_ci95")?,
            broken: num("broken_promise_rate")?,
            broken_ci: num("broken_promise_rate_ci95")?,
        });
    }
    Ok(weeks)
}

/// Two panels over the weeks: the acceptance rate and the broken-promise
/// rate, each rate with its 95% band. Partial weeks
/// (cut by the warm-up or the horizon) are left out of the lines.
pub fn chart<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, weeks: &[Week]) -> Res {
    let whole: Vec<(usize, &Week)> = weeks
        .iter()
        .enumerate()
        .filter(|(_, w)| w.days >= 7.0)
        .collect();
    let n = weeks.len().max(2) as f64 - 1.0;
    let date = |x: &f64| {
        weeks
            .get(x.round().max(0.0) as usize)
            .map_or(String::new(), |w| w.start.clone())
    };
    let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 / 2);
    let panel = |area: &DrawingArea<DB, Shift>,
                 caption: &str,
                 y_desc: &str,
                 color: RGBColor,
                 value: &dyn Fn(&Week) -> (f64, f64)|
     -> Res {
        let pts: Vec<(f64, f64, f64, f64)> = whole
            .iter()
            .filter_map(|(i, w)| {
                let (m, ci) = value(w);
                // One replication has no interval: a band of zero width.
                let ci = if ci.is_finite() { ci } else { 0.0 };
                m.is_finite().then_some((*i as f64, m, m - ci, m + ci))
            })
            .collect();
        let hi = pts.iter().map(|p| p.3).fold(0.0, f64::max).max(1e-9) * 1.1;
        let lo = 0.0;
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(75)
            .build_cartesian_2d(0.0..n, lo..hi)
            .map_err(s)?;
        chart
            .configure_mesh()
            .x_labels(12)
            .x_label_formatter(&date)
            .x_desc("week starting")
            .y_desc(y_desc)
            .draw()
            .map_err(s)?;
        chart
            .draw_series(pts.windows(2).map(|w| {
                Polygon::new(
                    vec![
                        (w[0].0, w[0].2),
                        (w[1].0, w[1].2),
                        (w[1].0, w[1].3),
                        (w[0].0, w[0].3),
                    ],
                    color.mix(0.2).filled(),
                )
            }))
            .map_err(s)?;
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|p| (p.0, p.1)),
                color.stroke_width(2),
            ))
            .map_err(s)?;
        Ok(())
    };
    panel(
        &top,
        "Acceptance rate by checkout week (95% band)",
        "acceptance rate",
        BLUE,
        &|w| (w.acceptance, w.acceptance_ci),
    )?;
    panel(
        &bottom,
        "Broken-promise rate by checkout week (95% band)",
        "broken promises / accepted",
        RED,
        &|w| (w.broken, w.broken_ci),
    )?;
    Ok(())
}
