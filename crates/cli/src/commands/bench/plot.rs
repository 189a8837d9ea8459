//! SVG plots of the benchmark results (plotters' SVG backend: text is left to the viewer,
//! so no font library is needed).

use std::path::Path;

use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::Value;

fn num(v: &Value, key: &str) -> Option<f64> {
    v[key].as_f64()
}

/// The plot error as anyhow (plotters' errors borrow the backend's error type).
fn plot_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("cannot draw the plot: {e}")
}

/// Log-log range that holds every value with some margin.
fn log_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values.filter(|v| *v > 0.0).fold((f64::INFINITY, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo.is_finite() { lo / 1.5..hi * 1.5 } else { 0.1..10.0 }
}

type LogLogChart<'a> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<LogCoord<f64>, LogCoord<f64>>>;

/// A white 800×500 log–log chart of candidates N against `y_desc`, its axes spanning
/// `xs` and `ys`.
fn log_log_chart<'a>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    caption: &str,
    xs: impl Iterator<Item = f64>,
    ys: impl Iterator<Item = f64>,
    y_desc: &str,
) -> anyhow::Result<LogLogChart<'a>> {
    root.fill(&WHITE).map_err(plot_error)?;
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(log_range(xs).log_scale(), log_range(ys).log_scale())
        .map_err(plot_error)?;
    chart.configure_mesh().x_desc("candidates N").y_desc(y_desc).draw().map_err(plot_error)?;
    Ok(chart)
}

/// Selector step latency (median, ms) against N.
pub fn select(rows: &[Value], path: &Path) -> anyhow::Result<()> {
    let points: Vec<(f64, f64)> = rows.iter().filter_map(|r| Some((num(r, "n")?, num(r, "median_ms")?))).collect();
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    let (xs, ys) = (points.iter().map(|p| p.0), points.iter().map(|p| p.1));
    let mut chart = log_log_chart(&root, "Selector step latency", xs, ys, "ms per step (median)")?;
    chart.draw_series(LineSeries::new(points.clone(), BLUE.stroke_width(2))).map_err(plot_error)?;
    chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, BLUE.filled()))).map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}

/// Branching wall time against N, batched and sequential, per generator.
pub fn branching(rows: &[Value], path: &Path) -> anyhow::Result<()> {
    let mut backends: Vec<String> = rows.iter().filter_map(|r| r["backend"].as_str().map(str::to_owned)).collect();
    backends.dedup();
    let series = |backend: &str, key: &str| -> Vec<(f64, f64)> {
        rows.iter().filter(|r| r["backend"] == backend).filter_map(|r| Some((num(r, "n")?, num(r, key)?))).collect()
    };
    let all = rows.iter().flat_map(|r| [num(r, "batched_s"), num(r, "sequential_s")]).flatten();
    let ns = rows.iter().filter_map(|r| num(r, "n"));
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    let caption = "Branching: N candidates, batched vs sequential";
    let mut chart = log_log_chart(&root, caption, ns, all, "seconds per request (median)")?;
    for (i, backend) in backends.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        for (key, dashed) in [("batched_s", false), ("sequential_s", true)] {
            let points = series(backend, key);
            let style = colour.stroke_width(2);
            let label = format!("{backend} {}", if dashed { "sequential" } else { "batched" });
            let drawn = if dashed {
                chart.draw_series(DashedLineSeries::new(points, 6, 4, style)).map_err(plot_error)?
            } else {
                chart.draw_series(LineSeries::new(points, style)).map_err(plot_error)?
            };
            drawn
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}
