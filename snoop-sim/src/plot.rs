//! PNG CDF plots (plotters, bitmap backend). Text uses a TrueType font loaded at run time
//! (Debian package `fonts-dejavu-core`; override with `SNOOP_SIM_FONT=/path/to/font.ttf`).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::stats::sorted;

const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// Registers the plot font once. Errors name the paths tried.
fn ensure_font() -> Result<(), String> {
    use std::sync::OnceLock;
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let mut paths: Vec<String> = std::env::var("SNOOP_SIM_FONT").into_iter().collect();
        paths.extend(FONT_CANDIDATES.iter().map(|s| s.to_string()));
        for p in &paths {
            if let Ok(bytes) = std::fs::read(p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                return plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                    .map_err(|_| format!("{p}: not a usable TrueType font"));
            }
        }
        Err(format!(
            "no TrueType font found (tried {paths:?}); install fonts-dejavu-core or set SNOOP_SIM_FONT"
        ))
    })
    .clone()
}

/// One CDF curve.
pub struct Series<'a> {
    pub label: &'a str,
    pub values: &'a [f64],
    pub color: RGBColor,
    pub dashed: bool,
}

/// Draws empirical CDFs of `series` (x: value, y: fraction of samples <= x) into a PNG.
pub fn cdf_png(
    path: &Path,
    title: &str,
    x_label: &str,
    series: &[Series<'_>],
) -> Result<(), String> {
    ensure_font()?;
    let e = |err: &dyn std::fmt::Display| err.to_string();
    let x_max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0f64, f64::max)
        * 1.05;
    let x_max = if x_max > 0.0 { x_max } else { 1.0 };
    let root = BitMapBackend::new(path, (1000, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 26))
        .margin(20)
        .x_label_area_size(55)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, 0.0..1.0)
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("CDF (fraction of transfers)")
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 20))
        .draw()
        .map_err(|x| e(&x))?;
    for s in series {
        let v = sorted(s.values);
        let n = v.len().max(1) as f64;
        let mut pts = Vec::with_capacity(2 * v.len() + 1);
        pts.push((0.0, 0.0));
        for (i, x) in v.iter().enumerate() {
            pts.push((*x, i as f64 / n));
            pts.push((*x, (i + 1) as f64 / n));
        }
        let color = s.color;
        let style = color.stroke_width(3);
        let anno = if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(pts, 10, 6, style))
                .map_err(|x| e(&x))?
        } else {
            chart
                .draw_series(LineSeries::new(pts, style))
                .map_err(|x| e(&x))?
        };
        anno.label(s.label).legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 30, y)], color.stroke_width(3))
        });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 18))
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}
