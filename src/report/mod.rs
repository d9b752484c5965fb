//! `lockerlab report`: turn the output directories of `sweep`, `compare` and
//! `simulate --out-dir` into a self-contained HTML page with PNG and SVG charts
//! (relative links, so it opens from disk) and the numbers behind each chart.

use crate::metrics::display::{mean_ci, value};
use crate::plot::{both, register_fonts, s, Res};
use anyhow::{anyhow, Context};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod weekly;
pub use weekly::Week;

/// A point on the acceptance / failed-delivery frontier.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontierPoint {
    pub series: String,
    pub label: String,
    pub acceptance: f64,
    pub acceptance_ci: f64,
    pub failed: f64,
    pub failed_ci: f64,
}

/// A two-parameter sweep's acceptance over its grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Heat {
    pub series: String,
    pub x_key: String,
    pub y_key: String,
    pub cells: Vec<(f64, f64, f64)>,
}

/// One location's capacity held by tier, hour by hour.
#[derive(Debug, Clone, PartialEq)]
pub struct Occupancy {
    pub location: String,
    pub compartments: u32,
    /// (hour, held per tier in `Tier::ALL` order)
    pub hours: Vec<(u32, [u32; 4])>,
}

/// Everything a report can show; each part is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportData {
    pub frontier: Vec<FrontierPoint>,
    /// The frontier's failure axis: `broken_promise_rate` when the outputs
    /// have it (every broken promise), else `failed_delivery_rate` (outputs
    /// written before it existed).
    pub failure_metric: &'static str,
    pub heat: Option<Heat>,
    pub utilization: Vec<(String, f64)>,
    pub dwell_hours: Vec<f64>,
    pub occupancy: Option<Occupancy>,
    /// From `simulate --out-dir`'s weekly.csv.
    pub weekly: Vec<Week>,
}

type Rows = Vec<BTreeMap<String, String>>;

/// The failure rate a frontier plots, among the names a file has.
fn failure_metric(names: &[String]) -> &'static str {
    if names.iter().any(|n| n == "broken_promise_rate") {
        "broken_promise_rate"
    } else {
        "failed_delivery_rate"
    }
}

/// "broken-promise rate" for `broken_promise_rate`.
fn failure_words(metric: &str) -> String {
    metric.trim_end_matches("_rate").replace('_', "-") + " rate"
}

fn read_csv(path: &Path) -> anyhow::Result<(Vec<String>, Rows)> {
    let mut r = csv::Reader::from_path(path).with_context(|| path.display().to_string())?;
    let header: Vec<String> = r.headers()?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.with_context(|| format!("{}: row {}", path.display(), i + 1))?;
        rows.push(
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect(),
        );
    }
    Ok((header, rows))
}

fn num(row: &BTreeMap<String, String>, key: &str, path: &Path) -> anyhow::Result<f64> {
    let v = row
        .get(key)
        .ok_or_else(|| anyhow!("{}: no column `{key}`", path.display()))?;
    if v.is_empty() {
        return Ok(f64::NAN);
    }
    v.parse().map_err(|_| {
        anyhow!(
            "{}: column `{key}`: expected a number, got \"{v}\"",
            path.display()
        )
    })
}

/// Reads whatever of the known outputs `dir` holds; the occupancy chart
/// shows `location`, or the location holding the most capacity on average.
pub fn collect(dir: &Path, location: Option<&str>) -> anyhow::Result<ReportData> {
    let mut data = ReportData::default();
    let occupancy = dir.join("occupancy.csv");
    if occupancy.is_file() {
        data.occupancy = Some(read_occupancy(&occupancy, location)?);
    } else if let Some(id) = location {
        return Err(anyhow!(
            "--location {id}: {} has no occupancy.csv (simulate --out-dir DIR --occupancy writes it)",
            dir.display()
        ));
    }
    let summary = dir.join("summary.csv");
    if summary.is_file() {
        let (header, rows) = read_csv(&summary)?;
        data.failure_metric = failure_metric(&header);
        // Sweep axes sit between `policy` and the first metric.
        let start = header
            .iter()
            .position(|h| h == "policy")
            .map_or(0, |i| i + 1);
        let end = header.iter().position(|h| h == "offered").unwrap_or(start);
        let axes = &header[start..end];
        for row in &rows {
            let label = axes
                .iter()
                .map(|a| format!("{a}={}", row[a]))
                .collect::<Vec<_>>()
                .join(" ");
            data.frontier.push(FrontierPoint {
                series: row.get("policy").cloned().unwrap_or_default(),
                label,
                acceptance: num(row, "acceptance_rate", &summary)?,
                acceptance_ci: num(row, "acceptance_rate_ci95", &summary)?,
                failed: num(row, data.failure_metric, &summary)?,
                failed_ci: num(row, &format!("{}_ci95", data.failure_metric), &summary)?,
            });
        }
        if axes.len() == 2 {
            let first = rows
                .first()
                .and_then(|r| r.get("policy"))
                .cloned()
                .unwrap_or_default();
            let mut cells = Vec::new();
            for row in rows.iter().filter(|r| r.get("policy") == Some(&first)) {
                cells.push((
                    num(row, &axes[0], &summary)?,
                    num(row, &axes[1], &summary)?,
                    num(row, "acceptance_rate", &summary)?,
                ));
            }
            data.heat = Some(Heat {
                series: first,
                x_key: axes[0].clone(),
                y_key: axes[1].clone(),
                cells,
            });
        }
    }
    let compare = dir.join("compare.csv");
    if compare.is_file() {
        let (_, rows) = read_csv(&compare)?;
        let metrics: Vec<String> = rows
            .iter()
            .filter_map(|r| r.get("metric").cloned())
            .collect();
        data.failure_metric = failure_metric(&metrics);
        let mut by_policy: BTreeMap<String, [f64; 4]> = BTreeMap::new();
        let mut order = Vec::new();
        for row in &rows {
            let policy = row.get("policy").cloned().unwrap_or_default();
            if !by_policy.contains_key(&policy) {
                order.push(policy.clone());
            }
            let e = by_policy.entry(policy).or_insert([f64::NAN; 4]);
            let (m, c) = (num(row, "mean", &compare)?, num(row, "ci95", &compare)?);
            match row.get("metric").map(String::as_str) {
                Some("acceptance_rate") => (e[0], e[1]) = (m, c),
                Some(f) if f == data.failure_metric => (e[2], e[3]) = (m, c),
                _ => {}
            }
        }
        for p in order {
            let e = by_policy[&p];
            // One series per policy family, so the same policy at several
            // parameters draws a frontier, not scattered dots.
            let family = p.split(':').next().unwrap_or(&p).to_string();
            data.frontier.push(FrontierPoint {
                series: family,
                label: p,
                acceptance: e[0],
                acceptance_ci: e[1],
                failed: e[2],
                failed_ci: e[3],
            });
        }
    }
    let weekly = dir.join("weekly.csv");
    if weekly.is_file() {
        data.weekly = weekly::read(&weekly)?;
    }
    let locations = dir.join("locations.csv");
    if locations.is_file() {
        let (_, rows) = read_csv(&locations)?;
        for row in &rows {
            let name = row.get("location").cloned().unwrap_or_default();
            if name != "TOTAL" {
                data.utilization
                    .push((name, num(row, "utilization", &locations)?));
            }
        }
        data.utilization.sort_by(|a, b| b.1.total_cmp(&a.1));
    }
    if data.frontier.is_empty() && data.utilization.is_empty() && data.occupancy.is_none() {
        return Err(anyhow!(
            "{}: no summary.csv (sweep), compare.csv (compare) or locations.csv (simulate --out-dir) to report on",
            dir.display()
        ));
    }
    Ok(data)
}

fn read_occupancy(path: &Path, location: Option<&str>) -> anyhow::Result<Occupancy> {
    let (_, rows) = read_csv(path)?;
    let mut by_loc: BTreeMap<String, Occupancy> = BTreeMap::new();
    for row in &rows {
        let id = row.get("location").cloned().unwrap_or_default();
        let o = by_loc.entry(id.clone()).or_insert_with(|| Occupancy {
            location: id,
            compartments: 0,
            hours: Vec::new(),
        });
        let mut held = [0u32; 4];
        for (h, tier) in held
            .iter_mut()
            .zip(["same_day", "next_day", "two_day", "standard"])
        {
            *h = num(row, tier, path)? as u32;
        }
        o.compartments = num(row, "compartments", path)? as u32;
        o.hours.push((num(row, "hour", path)? as u32, held));
    }
    let share = |o: &Occupancy| {
        let held: u64 = o
            .hours
            .iter()
            .map(|(_, h)| h.iter().sum::<u32>() as u64)
            .sum();
        held as f64 / (o.hours.len().max(1) as f64 * o.compartments.max(1) as f64)
    };
    match location {
        Some(id) => by_loc
            .remove(id)
            .ok_or_else(|| anyhow!("--location {id}: not in {}", path.display())),
        None => by_loc
            .into_values()
            .max_by(|a, b| share(a).total_cmp(&share(b)))
            .ok_or_else(|| anyhow!("{}: no samples", path.display())),
    }
}

fn occupancy<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &ReportData) -> Res {
    let Some(o) = &d.occupancy else { return Ok(()) };
    let last = o.hours.last().map_or(1, |h| h.0.max(1)) as f64 / 24.0;
    // Reservations promised later can take the total past the compartments
    // (the forecast policy counts on departures by then).
    let peak = o
        .hours
        .iter()
        .map(|(_, h)| h.iter().sum::<u32>())
        .max()
        .unwrap_or(0);
    let top = o.compartments.max(peak).max(1) as f64 * 1.05;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "Capacity held by tier at {} ({} compartments)",
                o.location, o.compartments
            ),
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..last, 0.0..top)
        .map_err(s)?;
    chart
        .configure_mesh()
        .x_desc("day")
        .y_desc("compartments held (reserved or occupied)")
        .draw()
        .map_err(s)?;
    let names = ["same_day", "next_day", "two_day", "standard"];
    // Opaque pastels: translucent areas stacked over each other blended
    // into colours the legend did not show.
    let pastel = |c: RGBColor| {
        let mix = |x: u8| (x as f64 * 0.55 + 255.0 * 0.45) as u8;
        RGBColor(mix(c.0), mix(c.1), mix(c.2))
    };
    let colors = [RED, BLUE, GREEN, MAGENTA].map(pastel);
    // Stacked: draw the running totals from the top tier down, each area
    // covering the ones below it.
    for k in (0..4).rev() {
        let color = colors[k];
        let pts: Vec<(f64, f64)> = o
            .hours
            .iter()
            .map(|(h, held)| (*h as f64 / 24.0, held[..=k].iter().sum::<u32>() as f64))
            .collect();
        chart
            .draw_series(AreaSeries::new(pts, 0.0, color.filled()))
            .map_err(s)?
            .label(names[k])
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], color.filled()));
    }
    chart
        .draw_series(LineSeries::new(
            [(0.0, o.compartments as f64), (last, o.compartments as f64)],
            BLACK.stroke_width(1),
        ))
        .map_err(s)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(s)?;
    Ok(())
}

const PALETTE: [RGBColor; 6] = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];

fn frontier<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &ReportData) -> Res {
    let pts: Vec<&FrontierPoint> = d
        .frontier
        .iter()
        .filter(|p| p.acceptance.is_finite())
        .collect();
    // The axis fits the data and its intervals (a fixed floor once left
    // rates of 1e-6 as dots on the y axis).
    let fmax = pts
        .iter()
        .map(|p| p.failed + p.failed_ci.max(0.0))
        .filter(|f| f.is_finite())
        .fold(0.0f64, f64::max);
    let fmax = if fmax > 0.0 { fmax * 1.15 } else { 1e-6 };
    let (amin, amax) = pts.iter().fold((1.0f64, 0.0f64), |(lo, hi), p| {
        (
            lo.min(p.acceptance - p.acceptance_ci),
            hi.max(p.acceptance + p.acceptance_ci),
        )
    });
    let pad = ((amax - amin) * 0.1).max(0.01);
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "Acceptance vs {} (95% CI whiskers)",
                failure_words(d.failure_metric)
            ),
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..fmax, (amin - pad).max(0.0)..(amax + pad).min(1.0))
        .map_err(s)?;
    chart
        .configure_mesh()
        .x_desc(failure_words(d.failure_metric))
        .y_desc("acceptance rate")
        .x_label_formatter(&|x| value(*x))
        .draw()
        .map_err(s)?;
    let mut series: Vec<&str> = Vec::new();
    for p in &pts {
        if !series.contains(&p.series.as_str()) {
            series.push(&p.series);
        }
    }
    for (i, name) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let mut mine: Vec<&&FrontierPoint> = pts.iter().filter(|p| p.series == *name).collect();
        mine.sort_by(|a, b| a.failed.total_cmp(&b.failed));
        if mine.len() > 1 {
            chart
                .draw_series(LineSeries::new(
                    mine.iter().map(|p| (p.failed, p.acceptance)),
                    color.stroke_width(2),
                ))
                .map_err(s)?;
        }
        chart
            .draw_series(mine.iter().map(|p| {
                PathElement::new(
                    [
                        (p.failed, p.acceptance - p.acceptance_ci),
                        (p.failed, p.acceptance + p.acceptance_ci),
                    ],
                    color.stroke_width(1),
                )
            }))
            .map_err(s)?;
        chart
            .draw_series(mine.iter().map(|p| {
                PathElement::new(
                    [
                        ((p.failed - p.failed_ci).max(0.0), p.acceptance),
                        (p.failed + p.failed_ci, p.acceptance),
                    ],
                    color.stroke_width(1),
                )
            }))
            .map_err(s)?;
        chart
            .draw_series(
                mine.iter()
                    .map(|p| Circle::new((p.failed, p.acceptance), 5, color.filled())),
            )
            .map_err(s)?
            .label(name.to_string())
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(s)?;
    Ok(())
}

fn heatmap<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &ReportData) -> Res {
    let Some(h) = &d.heat else { return Ok(()) };
    let xs: Vec<f64> = dedup_sorted(h.cells.iter().map(|c| c.0));
    let ys: Vec<f64> = dedup_sorted(h.cells.iter().map(|c| c.1));
    let (lo, hi) = h
        .cells
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), c| {
            (a.min(c.2), b.max(c.2))
        });
    // A colour scale on the right: what blue and red mean.
    let (root, scale) = root.split_horizontally(root.dim_in_pixel().0.saturating_sub(90));
    let steps = 50;
    let bar_top = 60i32;
    let bar_bottom = scale.dim_in_pixel().1 as i32 - 70;
    for k in 0..steps {
        let t = k as f64 / (steps - 1) as f64;
        let y0 = bar_bottom - (bar_bottom - bar_top) * (k + 1) / steps;
        let y1 = bar_bottom - (bar_bottom - bar_top) * k / steps;
        scale
            .draw(&Rectangle::new(
                [(15, y0), (40, y1)],
                HSLColor(0.66 - 0.66 * t, 0.75, 0.45).filled(),
            ))
            .map_err(s)?;
    }
    let font = ("sans-serif", 14).into_font();
    for (v, y) in [(hi, bar_top), (lo, bar_bottom)] {
        scale
            .draw(&Text::new(value(v), (44, y - 7), font.clone()))
            .map_err(s)?;
    }
    scale
        .draw(&Text::new("acceptance", (5, bar_top - 30), font))
        .map_err(s)?;
    let root = &root;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("Acceptance rate over the sweep ({})", h.series),
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        // A segmented a..b has a segment for b as well: n cells need 0..n-1.
        .build_cartesian_2d(
            (0..xs.len().saturating_sub(1)).into_segmented(),
            (0..ys.len().saturating_sub(1)).into_segmented(),
        )
        .map_err(s)?;
    let label = |v: &SegmentValue<usize>, axis: &[f64]| match v {
        SegmentValue::CenterOf(i) => axis.get(*i).map_or(String::new(), |x| format!("{x}")),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(h.x_key.as_str())
        .y_desc(h.y_key.as_str())
        .x_label_formatter(&|v| label(v, &xs))
        .y_label_formatter(&|v| label(v, &ys))
        .draw()
        .map_err(s)?;
    let cell = |x: f64, y: f64| {
        (
            xs.iter().position(|&a| a == x).unwrap_or(0),
            ys.iter().position(|&b| b == y).unwrap_or(0),
        )
    };
    chart
        .draw_series(h.cells.iter().map(|&(x, y, v)| {
            let (i, j) = cell(x, y);
            let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
            // Blue (low) to red (high).
            let color = HSLColor(0.66 - 0.66 * t, 0.75, 0.45);
            Rectangle::new(
                [
                    (SegmentValue::Exact(i), SegmentValue::Exact(j)),
                    (SegmentValue::Exact(i + 1), SegmentValue::Exact(j + 1)),
                ],
                color.filled(),
            )
        }))
        .map_err(s)?;
    chart
        .draw_series(h.cells.iter().map(|&(x, y, v)| {
            let (i, j) = cell(x, y);
            Text::new(
                format!("{v:.3}"),
                (SegmentValue::CenterOf(i), SegmentValue::CenterOf(j)),
                ("sans-serif", 16)
                    .into_font()
                    .color(&WHITE)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            )
        }))
        .map_err(s)?;
    Ok(())
}

fn dedup_sorted(it: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = it.collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

fn utilization<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &ReportData) -> Res {
    let n = d.utilization.len().max(1);
    // Every id while they fit side by side, else every k-th (the table
    // below the chart has them all).
    let every = n.div_ceil(14);
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Utilization by location (highest first)",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(90)
        .y_label_area_size(60)
        // A segmented a..b has a segment for b as well: n bars need 0..n-1.
        .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..1.0)
        .map_err(s)?;
    let ids = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) if i % every == 0 => d
            .utilization
            .get(*i)
            .map_or(String::new(), |(id, _)| id.clone()),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&ids)
        .x_label_style(("sans-serif", 11).into_font())
        .x_desc(if every > 1 {
            format!("locations (every {every}th id shown)")
        } else {
            "locations".to_string()
        })
        .y_desc("utilization")
        .draw()
        .map_err(s)?;
    chart
        .draw_series(d.utilization.iter().enumerate().map(|(i, (_, u))| {
            Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), *u),
                ],
                BLUE.mix(0.7).filled(),
            )
        }))
        .map_err(s)?;
    Ok(())
}

fn dwell<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &ReportData) -> Res {
    const WIDTH: f64 = 2.0;
    const MAX: f64 = 120.0;
    let mut counts = vec![0u64; (MAX / WIDTH) as usize];
    for &h in &d.dwell_hours {
        let i = ((h / WIDTH) as usize).min(counts.len() - 1);
        counts[i] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.05;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Dwell time (hours; the last bar is 118 h and more)",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(0.0..MAX, 0.0..top)
        .map_err(s)?;
    chart
        .configure_mesh()
        .x_desc("hours in the compartment")
        .y_desc("packages")
        .draw()
        .map_err(s)?;
    chart
        .draw_series(counts.iter().enumerate().map(|(i, &c)| {
            let x = i as f64 * WIDTH;
            Rectangle::new([(x, 0.0), (x + WIDTH, c as f64)], BLUE.mix(0.6).filled())
        }))
        .map_err(s)?;
    Ok(())
}

fn weekly_chart<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &ReportData) -> Res {
    weekly::chart(root, &d.weekly)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes index.html and the charts into `out`; returns the files written.
pub fn write(data: &ReportData, source: &Path, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    register_fonts().map_err(|e| anyhow!(e))?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut written = Vec::new();
    let mut html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>lockerlab report</title>\n\
         <style>body{{font-family:sans-serif;max-width:960px;margin:2em auto;padding:0 1em}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}\
         th{{background:#eee}}img{{max-width:100%}}</style></head><body>\n\
         <h1>lockerlab report</h1>\n<p>From <code>{}</code>. Every chart has an SVG twin \
         (same name, .svg) and the table below it holds its numbers.</p>\n",
        esc(&source.display().to_string())
    );
    let draw = |name: &str, title: &str, table: String, html: &mut String| {
        html.push_str(&format!(
            "<h2>{title}</h2>\n<p><img src=\"{name}.png\" alt=\"{title}\"> <a href=\"{name}.svg\">SVG</a></p>\n{table}\n"
        ));
    };
    let chart = |r: Result<(), String>| r.map_err(|e| anyhow!("drawing: {e}"));
    if !data.frontier.is_empty() {
        chart((|| -> Res {
            both!(out, "frontier", frontier, data, written);
            Ok(())
        })())?;
        let words = failure_words(data.failure_metric);
        let mut t = format!("<table><tr><th>policy</th><th>point</th><th>acceptance ± 95%</th><th>{words} ± 95%</th></tr>\n");
        for p in &data.frontier {
            t.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&p.series),
                esc(&p.label),
                mean_ci(p.acceptance, p.acceptance_ci),
                mean_ci(p.failed, p.failed_ci)
            ));
        }
        t.push_str("</table>");
        draw("frontier", &format!("Acceptance vs {words}"), t, &mut html);
    }
    if let Some(h) = &data.heat {
        chart((|| -> Res {
            both!(out, "heatmap", heatmap, data, written);
            Ok(())
        })())?;
        let mut t = format!(
            "<table><tr><th>{}</th><th>{}</th><th>acceptance</th></tr>\n",
            esc(&h.x_key),
            esc(&h.y_key)
        );
        for (x, y, v) in &h.cells {
            t.push_str(&format!(
                "<tr><td>{x}</td><td>{y}</td><td>{}</td></tr>\n",
                value(*v)
            ));
        }
        t.push_str("</table>");
        draw("heatmap", "Two-parameter sweep", t, &mut html);
    }
    if data.weekly.len() > 1 {
        chart((|| -> Res {
            both!(out, "weekly", weekly_chart, data, written);
            Ok(())
        })())?;
        let mut t = String::from(
            "<table><tr><th>week starting</th><th>days</th><th>offered</th><th>acceptance ± 95%</th><th>broken promises ± 95%</th></tr>\n",
        );
        for w in &data.weekly {
            t.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&w.start),
                value(w.days),
                w.offered,
                mean_ci(w.acceptance, w.acceptance_ci),
                mean_ci(w.broken, w.broken_ci)
            ));
        }
        t.push_str("</table>");
        draw("weekly", "Week by week", t, &mut html);
    }
    if !data.utilization.is_empty() {
        chart((|| -> Res {
            both!(out, "utilization", utilization, data, written);
            Ok(())
        })())?;
        let mut t = String::from("<table><tr><th>location</th><th>utilization</th></tr>\n");
        for (name, u) in &data.utilization {
            t.push_str(&format!(
                "<tr><td>{}</td><td>{}</td></tr>\n",
                esc(name),
                value(*u)
            ));
        }
        t.push_str("</table>");
        draw("utilization", "Utilization by location", t, &mut html);
    }
    if let Some(o) = &data.occupancy {
        chart((|| -> Res {
            both!(out, "occupancy", occupancy, data, written);
            Ok(())
        })())?;
        // The table gives daily means; the CSV beside the run has every hour.
        let mut t = format!(
            "<p>{} — daily mean of compartments held, by tier.</p><table><tr><th>day</th><th>same_day</th><th>next_day</th><th>two_day</th><th>standard</th></tr>\n",
            esc(&o.location)
        );
        for day in o.hours.chunks(24) {
            let n = day.len() as f64;
            let mean = |k: usize| day.iter().map(|(_, h)| h[k] as f64).sum::<f64>() / n;
            t.push_str(&format!(
                "<tr><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr>\n",
                day[0].0 / 24,
                mean(0),
                mean(1),
                mean(2),
                mean(3)
            ));
        }
        t.push_str("</table>");
        draw("occupancy", "Occupancy over time by tier", t, &mut html);
    }
    if !data.dwell_hours.is_empty() {
        chart((|| -> Res {
            both!(out, "dwell", dwell, data, written);
            Ok(())
        })())?;
        let mut sorted = data.dwell_hours.clone();
        sorted.sort_by(f64::total_cmp);
        let q = |p: f64| sorted[((sorted.len() - 1) as f64 * p) as usize];
        let t = format!(
            "<table><tr><th>packages</th><th>median h</th><th>p90 h</th><th>p99 h</th></tr>\
             <tr><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr></table>",
            sorted.len(),
            q(0.5),
            q(0.9),
            q(0.99)
        );
        draw("dwell", "Dwell-time histogram", t, &mut html);
    }
    html.push_str("</body></html>\n");
    let index = out.join("index.html");
    std::fs::write(&index, html).with_context(|| index.display().to_string())?;
    written.push(index);
    Ok(written)
}
