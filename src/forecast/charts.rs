//! The evaluation charts, each written as PNG and SVG (`crate::plot`):
//! predicted vs actual, reliability diagram, permutation importance, residual
//! histogram.

use super::eval::{CalibrationBin, Importance};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

use crate::plot::{both, register_fonts, s, Res};

/// What the charts draw.
pub struct ChartData<'a> {
    pub model_name: &'a str,
    pub actual: &'a [f64],
    pub predicted: &'a [f64],
    pub calibration: &'a [(&'a str, &'a [CalibrationBin])],
    pub importance: &'a [Importance],
}

/// Writes all four charts into `dir`; returns the files written.
pub fn write_all(dir: &Path, data: &ChartData) -> Result<Vec<PathBuf>, String> {
    register_fonts()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = Vec::new();
    both!(
        dir,
        "predicted_vs_actual",
        predicted_vs_actual,
        data,
        written
    );
    both!(dir, "reliability", reliability, data, written);
    both!(dir, "feature_importance", importance, data, written);
    both!(dir, "residuals", residuals, data, written);
    Ok(written)
}

fn predicted_vs_actual<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &ChartData) -> Res {
    let max = d
        .actual
        .iter()
        .chain(d.predicted)
        .fold(1.0f64, |m, &v| m.max(v))
        .ceil();
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{}: predicted mean vs actual dwell (hours)", d.model_name),
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..max, 0.0..max)
        .map_err(s)?;
    chart
        .configure_mesh()
        .x_desc("actual dwell (h)")
        .y_desc("predicted mean (h)")
        .draw()
        .map_err(s)?;
    // At most ~4000 points keep the SVG light; every k-th row is an unbiased pick.
    let step = (d.actual.len() / 4000).max(1);
    chart
        .draw_series(
            d.actual
                .iter()
                .zip(d.predicted)
                .step_by(step)
                .map(|(&a, &p)| Circle::new((a, p), 2, BLUE.mix(0.25).filled())),
        )
        .map_err(s)?;
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (max, max)],
            BLACK.stroke_width(1),
        ))
        .map_err(s)?;
    Ok(())
}

fn reliability<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &ChartData) -> Res {
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Reliability: predicted P(dwell <= t) vs observed, deciles",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)
        .map_err(s)?;
    chart
        .configure_mesh()
        .x_desc("mean predicted probability")
        .y_desc("observed frequency")
        .draw()
        .map_err(s)?;
    chart
        .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.5)))
        .map_err(s)?;
    let colors = [BLUE, RED, GREEN, MAGENTA];
    for (i, (name, bins)) in d.calibration.iter().enumerate() {
        let color = colors[i % colors.len()];
        let pts: Vec<(f64, f64)> = bins
            .iter()
            .map(|b| (b.mean_predicted, b.observed))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(s)?
            .label(*name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled())))
            .map_err(s)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(s)?;
    Ok(())
}

fn importance<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &ChartData) -> Res {
    let n = d.importance.len().max(1);
    let max = d
        .importance
        .iter()
        .fold(0.1f64, |m, i| m.max(i.mae_increase_hours))
        * 1.1;
    let min = d
        .importance
        .iter()
        .fold(0.0f64, |m, i| m.min(i.mae_increase_hours));
    let names: Vec<&str> = d.importance.iter().map(|i| i.feature).collect();
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Permutation importance: MAE increase when shuffled (hours)",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(190)
        .build_cartesian_2d(min..max, 0.0..n as f64)
        .map_err(s)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n * 2 + 1)
        .y_label_formatter(&|y| {
            // Labels sit at bar centres (i + 0.5); other ticks stay blank.
            let i = (*y - 0.5).round();
            if (*y - 0.5 - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                names[n - 1 - i as usize].to_string()
            } else {
                String::new()
            }
        })
        .x_desc("MAE increase (h)")
        .draw()
        .map_err(s)?;
    chart
        .draw_series(d.importance.iter().enumerate().map(|(i, imp)| {
            let y = (n - 1 - i) as f64;
            Rectangle::new(
                [(0.0, y + 0.15), (imp.mae_increase_hours, y + 0.85)],
                BLUE.mix(0.7).filled(),
            )
        }))
        .map_err(s)?;
    Ok(())
}

fn residuals<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &ChartData) -> Res {
    const LO: f64 = -72.0;
    const HI: f64 = 96.0;
    const WIDTH: f64 = 3.0;
    let bins = ((HI - LO) / WIDTH) as usize;
    let mut counts = vec![0u64; bins];
    for (&a, &p) in d.actual.iter().zip(d.predicted) {
        let r = (a - p).clamp(LO, HI - 1e-9);
        counts[((r - LO) / WIDTH) as usize] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.05;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Residuals: actual - predicted mean (hours; clamped to the axis)",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(LO..HI, 0.0..top)
        .map_err(s)?;
    chart
        .configure_mesh()
        .x_desc("residual (h)")
        .y_desc("packages")
        .draw()
        .map_err(s)?;
    chart
        .draw_series(counts.iter().enumerate().map(|(i, &c)| {
            let x0 = LO + i as f64 * WIDTH;
            Rectangle::new([(x0, 0.0), (x0 + WIDTH, c as f64)], BLUE.mix(0.6).filled())
        }))
        .map_err(s)?;
    Ok(())
}
