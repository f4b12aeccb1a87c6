//! The figures of `seuss bench`, drawn from an experiment's JSON results with `plotters`
//! (SVG; text is left to the viewer's fonts, so no font files are needed here). Every figure
//! has labelled axes with units and ticks, a legend, the baselines on the same axes, and one
//! scale where panels are compared.
//!
//! | figure | from | what |
//! |---|---|---|
//! | `startup.svg` | `startup` | p50 start time per start kind and baseline, grouped by function (log scale) |
//! | `burst.svg` | `burst` | per-request latency against arrival time, one panel per period (shared log scale), one colour per (function, system), bursts marked |
//! | `serve.svg` | `serve` | invocations/s against connections per `--workers`, with the baselines as horizontal lines (log scale) |

use anyhow::{anyhow, Result};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use serde_json::Value;

const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);
const PURPLE: RGBColor = RGBColor(148, 103, 189);
const BROWN: RGBColor = RGBColor(140, 86, 75);
const PINK: RGBColor = RGBColor(227, 119, 194);
const GREY: RGBColor = RGBColor(127, 127, 127);
const OLIVE: RGBColor = RGBColor(188, 189, 34);
const CYAN: RGBColor = RGBColor(23, 190, 207);

const FONT: &str = "sans-serif";

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing the figure: {e:?}")
}

/// A tick label for a log axis: 0.1, 1, 10, 1k, 10k, 1M.
fn tick(v: f64) -> String {
    let (v, suffix) = if v >= 1e6 { (v / 1e6, "M") } else if v >= 1e3 { (v / 1e3, "k") } else { (v, "") };
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{suffix}")
}

/// Three significant digits with the k/M suffixes of [`tick`] (legend values).
fn short(v: f64) -> String {
    let (x, suffix) = if v >= 1e6 { (v / 1e6, "M") } else if v >= 1e3 { (v / 1e3, "k") } else { (v, "") };
    let decimals = if x >= 100.0 { 0 } else if x >= 10.0 { 1 } else { 2 };
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s };
    format!("{s}{suffix}")
}

/// How a legend entry is marked.
#[derive(Clone, Copy)]
enum Mark {
    Bar(RGBColor),
    Line(RGBColor),
    Dot(RGBColor),
    Rule,
}

/// Draws a legend into its own area (beside or below the chart, never over the data):
/// entries in `columns` columns, one row every 20 px.
fn legend<DB: DrawingBackend>(area: &DrawingArea<DB, plotters::coord::Shift>, entries: &[(String, Mark)], columns: usize) -> Result<()> {
    let (w, _) = area.dim_in_pixel();
    let col_w = w as i32 / columns.max(1) as i32;
    let text = TextStyle::from((FONT, 13)).pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Left,
        plotters::style::text_anchor::VPos::Center,
    ));
    for (i, (label, mark)) in entries.iter().enumerate() {
        let (x, y) = (8 + (i % columns.max(1)) as i32 * col_w, 16 + (i / columns.max(1)) as i32 * 20);
        match *mark {
            Mark::Bar(c) => area.draw(&Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled())),
            Mark::Line(c) => area.draw(&PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))),
            Mark::Dot(c) => area.draw(&Circle::new((x + 7, y), 4, c.filled())),
            Mark::Rule => area.draw(&PathElement::new(vec![(x + 7, y - 7), (x + 7, y + 7)], BLACK.mix(0.5).stroke_width(1))),
        }
        .map_err(err)?;
        area.draw(&Text::new(label.clone(), (x + 22, y), text.clone())).map_err(err)?;
    }
    Ok(())
}

/// Powers of ten around `[min, max]` (a log axis that starts and ends on a decade).
fn decades(min: f64, max: f64) -> (f64, f64) {
    let min = min.max(1e-9);
    let max = max.max(min * 1.0001);
    // A hair beyond the decades, so that both end ticks are drawn.
    (10f64.powf(min.log10().floor()) * 0.999, 10f64.powf(max.log10().ceil()) * 1.001)
}

/// The start kinds of `startup`, in drawing order: (JSON key, label, colour).
const START_KINDS: [(&str, &str, RGBColor); 9] = [
    ("hot_us", "hot", BLUE),
    ("reuse_us", "reuse (no isolation)", CYAN),
    ("hot_new_vm_us", "hot (new VM)", GREEN),
    ("warm_us", "warm", OLIVE),
    ("cold_us", "cold (seuss run)", PURPLE),
    ("uhyve_cold_us", "stock uhyve cold (process)", BROWN),
    ("boa_process_us", "Boa as a Linux process", PINK),
    ("node_warm_us", "Node.js warm process", GREY),
    ("node_process_us", "Node.js process per request", ORANGE),
];

/// Grouped bars: p50 start time (ms, log) of every start kind and baseline, per function.
pub fn startup(results: &Value) -> Result<String> {
    let functions: Vec<(&String, &Value)> = results["functions"].as_object().map(|m| m.iter().collect()).unwrap_or_default();
    let k = START_KINDS.len() as i32;
    // Segments 0..=slots: k bars per function, one empty slot between functions.
    let slots = (functions.len() as i32 * (k + 1) - 2).max(0);
    let ms = |v: &Value| v["median"].as_f64().map(|us| us / 1e3);
    let all: Vec<f64> = functions.iter().flat_map(|(_, r)| START_KINDS.iter().filter_map(|(key, ..)| ms(&r[*key]))).collect();
    let (lo, hi) = decades(all.iter().copied().fold(f64::INFINITY, f64::min), all.iter().copied().fold(0.0, f64::max));
    let width = (120 + functions.len() * 300) as u32 + 250;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let root = root.titled("Start time per start kind (p50; seuss bench startup)", (FONT, 20)).map_err(err)?;
        let (left, right) = root.split_horizontally(width - 250);
        let mut chart = ChartBuilder::on(&left)
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d((0..slots).into_segmented(), (lo..hi).log_scale())
            .map_err(err)?;
        let names: Vec<String> = functions.iter().map(|(f, _)| format!("{f}.js")).collect();
        let label = move |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(j) if j % (k + 1) == k / 2 => names.get((j / (k + 1)) as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(slots as usize + 2)
            .x_label_formatter(&label)
            .x_desc("function")
            .y_desc("start time, p50 (ms, log scale)")
            .y_label_formatter(&|v| tick(*v))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(err)?;
        let mut entries = Vec::new();
        for (i, (key, name, color)) in START_KINDS.iter().enumerate() {
            let color = *color;
            entries.push(((*name).to_owned(), Mark::Bar(color)));
            let bars: Vec<Rectangle<(SegmentValue<i32>, f64)>> = functions
                .iter()
                .enumerate()
                .filter_map(|(fi, (_, r))| {
                    let v = ms(&r[*key])?;
                    let j = fi as i32 * (k + 1) + i as i32;
                    let mut bar = Rectangle::new([(SegmentValue::Exact(j), lo), (SegmentValue::Exact(j + 1), v)], color.filled());
                    bar.set_margin(0, 0, 2, 2);
                    Some(bar)
                })
                .collect();
            chart.draw_series(bars).map_err(err)?;
        }
        legend(&right.margin(20, 0, 0, 0), &entries, 1)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The colour of a burst series.
fn series_color(function: &str, system: &str) -> RGBColor {
    match (function, system) {
        ("fib", "seuss") => BLUE,
        ("fib", "serve") => CYAN,
        ("fib", _) => RED,
        ("fetch", "seuss") => GREEN,
        ("fetch", "serve") => MAGENTA,
        ("fetch", _) => ORANGE,
        (_, "seuss") => PURPLE,
        _ => BROWN,
    }
}

/// The paper's burst figure: per-request latency (ms, log) against arrival time (s), one
/// panel per period with one y scale, one colour per (function, system), bursts marked.
pub fn burst(results: &Value) -> Result<String> {
    let requests = results["requests"].as_array().cloned().unwrap_or_default();
    let periods: Vec<f64> = results["periods_s"].as_array().into_iter().flatten().filter_map(Value::as_f64).collect();
    let bursts = results["bursts"].as_u64().unwrap_or(1) as usize;
    let mut series: Vec<(String, String)> = Vec::new();
    for r in &requests {
        let key = (r["function"].as_str().unwrap_or("?").to_owned(), r["system"].as_str().unwrap_or("?").to_owned());
        if !series.contains(&key) {
            series.push(key);
        }
    }
    let lat_ms: Vec<f64> = requests.iter().filter_map(|r| r["latency_us"].as_f64()).map(|us| us / 1e3).collect();
    let (lo, hi) = decades(lat_ms.iter().copied().fold(f64::INFINITY, f64::min), lat_ms.iter().copied().fold(0.0, f64::max));
    let panel_w = 560u32;
    let width = (panel_w * periods.len().max(1) as u32).max(820);
    let mut entries = Vec::new();
    for (function, system) in &series {
        let who = super::burst::system_label(&serde_json::Value::String(system.clone()));
        entries.push((format!("{function}: {who}"), Mark::Dot(series_color(function, system))));
    }
    entries.push(("burst arrives".to_owned(), Mark::Rule));
    let legend_h = 20 + 20 * entries.len().div_ceil(2) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, 540 + legend_h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let root = root
            .titled(
                &format!("Latency under bursts of {} concurrent requests (seuss bench burst)", results["burst_size"]),
                (FONT, 20),
            )
            .map_err(err)?;
        let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 - legend_h);
        let panels = top.split_evenly((1, periods.len().max(1)));
        for (pi, (panel, &period)) in panels.iter().zip(&periods).enumerate() {
            let span = period * bursts as f64;
            // Series share burst instants: each is dodged sideways by a fixed step so that the
            // columns stay apart (the x-axis description says so).
            let step = span * 0.012;
            let dodge = |i: usize| (i as f64 - (series.len() as f64 - 1.0) / 2.0) * step;
            let x_lo = -step * (series.len() as f64 / 2.0 + 2.0);
            let mut chart = ChartBuilder::on(panel)
                .caption(format!("bursts every {period} s"), (FONT, 16))
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size(if pi == 0 { 64 } else { 40 })
                .build_cartesian_2d(x_lo..span, (lo..hi).log_scale())
                .map_err(err)?;
            let mut mesh = chart.configure_mesh();
            mesh.x_desc("arrival time (s; series side by side)")
                .x_label_formatter(&|v| tick(*v))
                .y_label_formatter(&|v| tick(*v))
                .x_labels(8)
                .light_line_style(BLACK.mix(0.04));
            if pi == 0 {
                mesh.y_desc("latency (ms, log scale)");
            }
            mesh.label_style((FONT, 13)).axis_desc_style((FONT, 14)).draw().map_err(err)?;
            let marks: Vec<PathElement<(f64, f64)>> = (0..bursts)
                .map(|b| PathElement::new(vec![(b as f64 * period, lo), (b as f64 * period, hi)], BLACK.mix(0.35).stroke_width(1)))
                .collect();
            chart.draw_series(marks).map_err(err)?;
            for (si, (function, system)) in series.iter().enumerate() {
                let color = series_color(function, system);
                let pts: Vec<Circle<(f64, f64), i32>> = requests
                    .iter()
                    .filter(|r| r["function"] == function.as_str() && r["system"] == system.as_str() && r["period_s"].as_f64() == Some(period))
                    .filter_map(|r| Some((r["arrival_s"].as_f64()?, r["latency_us"].as_f64()? / 1e3, r["ok"] == true)))
                    .map(|(x, y, ok)| {
                        let style = if ok { color.mix(0.65).filled() } else { BLACK.stroke_width(1) };
                        Circle::new((x + dodge(si), y.max(lo)), 3, style)
                    })
                    .collect();
                chart.draw_series(pts).map_err(err)?;
            }
        }
        legend(&bottom.margin(0, 0, 70, 0), &entries, 2)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Invocations/s (log) against connections, one line per `--workers`, baselines as
/// horizontal lines.
pub fn serve(results: &Value) -> Result<String> {
    let hot = results["hot"].as_array().cloned().unwrap_or_default();
    let mut conns: Vec<u64> = hot.iter().filter_map(|h| h["connections"].as_u64()).collect();
    conns.sort_unstable();
    conns.dedup();
    let mut workers: Vec<u64> = hot.iter().filter_map(|h| h["workers"].as_u64()).collect();
    workers.sort_unstable();
    workers.dedup();
    let library = results["library_hot_us"]["median"].as_f64().map(|us| 1e6 / us);
    let baselines: Vec<(String, Option<f64>, RGBColor)> = vec![
        ("warm Node.js /run server (no isolation)".into(), results["node_warm_run"]["rps"].as_f64(), GREY),
        ("library hot start, one thread (1 / p50)".into(), library, PURPLE),
        ("Node.js process per request".into(), results["node_process_rps"].as_f64(), ORANGE),
    ];
    let values: Vec<f64> = hot
        .iter()
        .filter_map(|h| h["rps"].as_f64())
        .chain(baselines.iter().filter_map(|b| b.1))
        .filter(|v| *v > 0.0)
        .collect();
    let (lo, hi) = decades(values.iter().copied().fold(f64::INFINITY, f64::min), values.iter().copied().fold(0.0, f64::max));
    // Segments 0..=last, one per connection count.
    let last = (conns.len() as i32 - 1).max(0);
    let width = 1040u32;
    let mut entries = Vec::new();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let root = root.titled("seuss serve through HTTP: hot invocations/s (wrk; seuss bench serve)", (FONT, 18)).map_err(err)?;
        let (left, right) = root.split_horizontally(width - 340);
        let mut chart = ChartBuilder::on(&left)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d((0..last).into_segmented(), (lo..hi).log_scale())
            .map_err(err)?;
        let labels = conns.clone();
        let label = move |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => labels.get(*i as usize).map(u64::to_string).unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(last as usize + 2)
            .x_label_formatter(&label)
            .x_desc("concurrent connections")
            .y_desc("invocations/s (log scale)")
            .y_label_formatter(&|v| tick(*v))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(err)?;
        for (name, value, color) in &baselines {
            let (Some(v), color) = (value, *color) else { continue };
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(SegmentValue::Exact(0), *v), (SegmentValue::Last, *v)],
                    color.stroke_width(2),
                )))
                .map_err(err)?;
            entries.push((format!("{name}: {}/s", short(*v)), Mark::Line(color)));
        }
        for (wi, w) in workers.iter().enumerate() {
            let color = [BLUE, GREEN, RED, CYAN][wi % 4];
            let pts: Vec<(SegmentValue<i32>, f64)> = conns
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let h = hot.iter().find(|h| h["workers"].as_u64() == Some(*w) && h["connections"].as_u64() == Some(*c))?;
                    Some((SegmentValue::CenterOf(i as i32), h["rps"].as_f64()?))
                })
                .collect();
            chart.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2))).map_err(err)?;
            chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled()))).map_err(err)?;
            entries.push((format!("seuss serve --workers {w}, hot"), Mark::Dot(color)));
        }
        legend(&right.margin(30, 0, 0, 0), &entries, 1)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn log_ticks_read_naturally() {
        assert_eq!(tick(0.1), "0.1");
        assert_eq!(tick(10.0), "10");
        assert_eq!(tick(2500.0), "2.5k");
        assert_eq!(tick(1e6), "1M");
        let (lo, hi) = decades(0.35, 140.0);
        assert!((lo - 0.1).abs() < 1e-3 && (hi - 1000.0).abs() < 2.0);
        assert_eq!(short(1111.0), "1.11k");
        assert_eq!(short(8.6), "8.6");
        assert_eq!(short(17047.0), "17k");
    }

    #[test]
    fn figures_carry_axes_legends_and_every_point() {
        let s = |us: f64| json!({"n": 3, "median": us, "min": us, "max": us});
        let startup_r = json!({"functions": {"nop": {"hot_us": s(700.0), "reuse_us": s(140.0), "node_process_us": s(61000.0)}}});
        let svg = startup(&startup_r).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("start time, p50 (ms, log scale)") && svg.contains("nop.js"));
        assert!(svg.contains("Node.js process per request") && svg.contains("reuse (no isolation)"));

        let req = |f: &str, sys: &str, p: f64, x: f64, us: f64| {
            json!({"function": f, "system": sys, "period_s": p, "burst": 0, "arrival_s": x, "latency_us": us, "ok": true})
        };
        let burst_r = json!({"burst_size": 2, "bursts": 2, "periods_s": [1.0, 2.0], "requests": [
            req("fib", "seuss", 1.0, 0.0, 2e5), req("fib", "node", 1.0, 1.0, 9e4),
            req("fetch", "seuss", 2.0, 0.0, 3e5), req("fetch", "node", 2.0, 2.0, 4e5),
        ]});
        let svg = burst(&burst_r).unwrap();
        assert!(svg.contains("latency (ms, log scale)") && svg.contains("bursts every 2 s") && svg.contains("burst arrives"));
        assert!(svg.contains("fetch: Node.js, a process per request") && svg.contains("fib: seuss, a clone per request"));

        let serve_r = json!({
            "hot": [{"workers": 1, "connections": 1, "rps": 150.0}, {"workers": 1, "connections": 64, "rps": 170.0},
                    {"workers": 2, "connections": 1, "rps": 140.0}, {"workers": 2, "connections": 64, "rps": 250.0}],
            "library_hot_us": {"n": 20, "median": 900.0}, "node_process_rps": 8.6, "node_warm_run": {"rps": 17000.0},
        });
        let svg = serve(&serve_r).unwrap();
        assert!(svg.contains("concurrent connections") && svg.contains("--workers 2") && svg.contains("Node.js process per request"));
        if let Ok(dir) = std::env::var("SEUSS_PLOT_SAMPLES") {
            std::fs::write(format!("{dir}/startup.svg"), startup(&startup_r).unwrap()).unwrap();
            std::fs::write(format!("{dir}/burst.svg"), burst(&burst_r).unwrap()).unwrap();
            std::fs::write(format!("{dir}/serve.svg"), svg).unwrap();
        }
    }
}
