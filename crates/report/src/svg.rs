//! Small SVG building blocks: a time scale with ticks, nice value ticks, marker shapes, number
//! and time formatting.

use std::fmt::Write as _;

use trailhound_model::{DAY, HOUR, Timestamp, format_rfc3339};

use crate::escape::Esc;

/// Width of every chart's view box; charts scale to the page width.
pub(crate) const W: f64 = 1000.0;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `2024-05-01 14:03:22 UTC`.
pub(crate) fn fmt_time(t: Timestamp) -> String {
    let s = format_rfc3339(t);
    match (s.get(..10), s.get(11..19)) {
        (Some(d), Some(h)) => format!("{d} {h} UTC"),
        _ => s,
    }
}

/// `2024-05-01 14:00 UTC`.
pub(crate) fn fmt_minute(t: Timestamp) -> String {
    let s = format_rfc3339(t);
    match (s.get(..10), s.get(11..16)) {
        (Some(d), Some(h)) => format!("{d} {h} UTC"),
        _ => s,
    }
}

/// `May 01`.
fn fmt_day(t: Timestamp) -> String {
    let s = format_rfc3339(t);
    let month: usize = s.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1);
    let day = s.get(8..10).unwrap_or("");
    format!("{} {day}", MONTHS[(month.clamp(1, 12)) - 1])
}

/// `14:00`.
fn fmt_clock(t: Timestamp) -> String {
    format_rfc3339(t).get(11..16).unwrap_or("").to_owned()
}

/// A number for a label: integers without decimals, others with at most two.
pub(crate) fn num(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".to_owned()
        } else if x > 0.0 {
            "∞".to_owned()
        } else {
            "−∞".to_owned()
        };
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A coordinate with one decimal.
pub(crate) fn c(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_owned)
}

/// One linear piece of a [`TimeScale`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct Piece {
    t0: Timestamp,
    t1: Timestamp,
    x0: f64,
    x1: f64,
}

/// Maps times to x coordinates: linear, or focus + context, where a window of interest (the
/// hours around a key's alerts) gets most of the width and the time before and after it is
/// compressed into the rest.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TimeScale {
    pub t0: Timestamp,
    pub t1: Timestamp,
    pub x0: f64,
    pub x1: f64,
    pieces: Vec<Piece>,
    focus: Option<(Timestamp, Timestamp)>,
}

/// Share of the width a focus window gets.
const FOCUS_SHARE: f64 = 0.6;

impl TimeScale {
    /// `[t0, t1]` (at least one hour) linearly onto `[x0, x1]`.
    pub fn new(t0: Timestamp, t1: Timestamp, x0: f64, x1: f64) -> Self {
        let t1 = t1.max(t0.saturating_add(HOUR));
        TimeScale {
            t0,
            t1,
            x0,
            x1,
            pieces: vec![Piece { t0, t1, x0, x1 }],
            focus: None,
        }
    }

    /// `[t0, t1]` onto `[x0, x1]` with `focus` (clipped to the range) drawn over
    /// [`FOCUS_SHARE`] of the width, when that magnifies it at least twofold; linear otherwise.
    pub fn focused(
        t0: Timestamp,
        t1: Timestamp,
        x0: f64,
        x1: f64,
        focus: Option<(Timestamp, Timestamp)>,
    ) -> Self {
        let linear = Self::new(t0, t1, x0, x1);
        let Some((f0, f1)) = focus else {
            return linear;
        };
        let (t0, t1) = (linear.t0, linear.t1);
        let (f0, f1) = (f0.max(t0), f1.min(t1));
        let span = (t1 - t0) as f64;
        if f1 <= f0 || ((f1 - f0) as f64) / span > FOCUS_SHARE / 2.0 {
            return linear;
        }
        let width = x1 - x0;
        let context = span - (f1 - f0) as f64;
        let before = width * (1.0 - FOCUS_SHARE) * (f0 - t0) as f64 / context;
        let xf0 = x0 + before;
        let xf1 = xf0 + width * FOCUS_SHARE;
        let mut pieces = Vec::new();
        if f0 > t0 {
            pieces.push(Piece {
                t0,
                t1: f0,
                x0,
                x1: xf0,
            });
        }
        pieces.push(Piece {
            t0: f0,
            t1: f1,
            x0: xf0,
            x1: xf1,
        });
        if t1 > f1 {
            pieces.push(Piece {
                t0: f1,
                t1,
                x0: xf1,
                x1,
            });
        }
        TimeScale {
            t0,
            t1,
            x0,
            x1,
            pieces,
            focus: Some((f0, f1)),
        }
    }

    /// The focus window, when the scale has one.
    pub fn focus(&self) -> Option<(Timestamp, Timestamp)> {
        self.focus
    }

    /// How much wider an hour is drawn in the focus than in the context.
    pub fn zoom(&self) -> Option<f64> {
        let (f0, f1) = self.focus?;
        let focus = (self.x(f1) - self.x(f0)) / (f1 - f0) as f64;
        let context = (self.x1 - self.x0 - (self.x(f1) - self.x(f0)))
            / ((self.t1 - self.t0) - (f1 - f0)) as f64;
        Some(focus / context)
    }

    /// The x coordinate of `t` (times outside the range extend the first or last piece).
    pub fn x(&self, t: Timestamp) -> f64 {
        let p = self
            .pieces
            .iter()
            .find(|p| t < p.t1)
            .or(self.pieces.last())
            .copied()
            .unwrap_or(Piece {
                t0: self.t0,
                t1: self.t1,
                x0: self.x0,
                x1: self.x1,
            });
        let p = if t < p.t0 { self.pieces[0] } else { p };
        p.x0 + (t - p.t0) as f64 / (p.t1 - p.t0).max(1) as f64 * (p.x1 - p.x0)
    }

    /// The width of `[t, t + dt)`.
    pub fn w(&self, t: Timestamp, dt: i64) -> f64 {
        self.x(t + dt) - self.x(t)
    }

    /// Tick times of each piece: multiples of a step from 1 h to 90 d, about one per 70 units
    /// of width.
    fn ticks(&self) -> Vec<(i64, Timestamp)> {
        const STEPS: [i64; 13] = [1, 2, 3, 6, 12, 24, 48, 72, 168, 336, 720, 1440, 2160];
        let mut out = Vec::new();
        for p in &self.pieces {
            let span = p.t1 - p.t0;
            let most = ((p.x1 - p.x0) / 70.0).floor().max(1.0) as i64;
            let step = STEPS
                .iter()
                .map(|h| h * HOUR)
                .find(|s| span / s <= most)
                .unwrap_or(span / most / DAY * DAY + DAY);
            let mut t = p.t0.div_euclid(step) * step;
            if t < p.t0 {
                t += step;
            }
            while t <= p.t1 {
                out.push((step, t));
                t += step;
            }
        }
        out.sort_by_key(|&(_, t)| t);
        out.dedup_by_key(|&mut (_, t)| t);
        out
    }

    /// The shaded background of the focus window, from `y_top` to `y_axis`.
    pub fn focus_band(&self, out: &mut String, y_top: f64, y_axis: f64) {
        if let Some((f0, f1)) = self.focus {
            let _ = write!(
                out,
                r#"<rect class="focus-bg" x="{}" y="{}" width="{}" height="{}"/>"#,
                c(self.x(f0)),
                c(y_top),
                c(self.x(f1) - self.x(f0)),
                c(y_axis - y_top)
            );
        }
    }

    /// Vertical grid lines from `y_top` to `y_axis` and tick labels below `y_axis` (labels that
    /// would overlap the previous one are left out).
    pub fn axis(&self, out: &mut String, y_top: f64, y_axis: f64) {
        out.push_str(r#"<g class="axis x-axis">"#);
        let _ = write!(
            out,
            r#"<line class="baseline" x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
            c(self.x0),
            c(y_axis),
            c(self.x1),
            c(y_axis)
        );
        if let Some((f0, f1)) = self.focus {
            for t in [f0, f1] {
                let x = c(self.x(t));
                let _ = write!(
                    out,
                    r#"<line class="focus-edge" x1="{x}" y1="{}" x2="{x}" y2="{}"/>"#,
                    c(y_top),
                    c(y_axis)
                );
            }
        }
        let mut last_day = None;
        let mut last_x = f64::NEG_INFINITY;
        for (step, t) in self.ticks() {
            let xf = self.x(t);
            let x = c(xf);
            let _ = write!(
                out,
                r#"<line class="grid" x1="{x}" y1="{}" x2="{x}" y2="{}"/>"#,
                c(y_top),
                c(y_axis)
            );
            if xf - last_x < 56.0 {
                continue;
            }
            last_x = xf;
            let day = t.div_euclid(DAY);
            if step >= DAY || t.rem_euclid(DAY) == 0 && last_day != Some(day) {
                let _ = write!(
                    out,
                    r#"<text x="{x}" y="{}" text-anchor="middle">{}</text>"#,
                    c(y_axis + 15.0),
                    fmt_day(t)
                );
            } else {
                let _ = write!(
                    out,
                    r#"<text x="{x}" y="{}" text-anchor="middle">{}</text>"#,
                    c(y_axis + 15.0),
                    fmt_clock(t)
                );
                if last_day != Some(day) {
                    let _ = write!(
                        out,
                        r#"<text class="day" x="{x}" y="{}" text-anchor="middle">{}</text>"#,
                        c(y_axis + 29.0),
                        fmt_day(t)
                    );
                }
            }
            last_day = Some(day);
        }
        out.push_str("</g>");
    }
}

/// A "nice" tick step (1, 2 or 5 × 10ⁿ, at least `min_step`) giving at most about `target`
/// ticks up to `max`, and the axis top (a multiple of the step, at least one step).
pub(crate) fn nice_ticks(max: f64, target: usize, min_step: f64) -> (f64, f64) {
    let raw = (max / target.max(1) as f64).max(min_step);
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
        .max(min_step);
    let top = ((max / step).ceil() * step).max(step);
    (step, top)
}

/// Marker shapes, one per rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Circle,
    Square,
    Diamond,
    Triangle,
    Hexagon,
}

/// A marker of `shape` centred on `(x, y)` with radius `r`, with a class and a tooltip.
pub(crate) fn marker(shape: Shape, x: f64, y: f64, r: f64, class: &str, title: &str) -> String {
    let title = Esc(title);
    let class = Esc(class);
    match shape {
        Shape::Circle => format!(
            r#"<circle class="{class}" cx="{}" cy="{}" r="{}"><title>{title}</title></circle>"#,
            c(x),
            c(y),
            c(r)
        ),
        _ => format!(
            r#"<path class="{class}" d="{}"><title>{title}</title></path>"#,
            shape_path(shape, x, y, r)
        ),
    }
}

/// The path data of a non-circle shape.
pub(crate) fn shape_path(shape: Shape, x: f64, y: f64, r: f64) -> String {
    let pts: Vec<(f64, f64)> = match shape {
        Shape::Circle | Shape::Square => {
            let s = r * 0.9;
            vec![
                (x - s, y - s),
                (x + s, y - s),
                (x + s, y + s),
                (x - s, y + s),
            ]
        }
        Shape::Diamond => {
            let s = r * 1.25;
            vec![(x, y - s), (x + s, y), (x, y + s), (x - s, y)]
        }
        Shape::Triangle => {
            let s = r * 1.3;
            vec![
                (x, y - s),
                (x + s * 0.95, y + s * 0.7),
                (x - s * 0.95, y + s * 0.7),
            ]
        }
        Shape::Hexagon => (0..6)
            .map(|i| {
                let a = std::f64::consts::PI / 3.0 * f64::from(i);
                (x + r * 1.1 * a.cos(), y + r * 1.1 * a.sin())
            })
            .collect(),
    };
    let mut d = String::new();
    for (i, (px, py)) in pts.iter().enumerate() {
        let _ = write!(d, "{}{},{}", if i == 0 { "M" } else { "L" }, c(*px), c(*py));
    }
    d.push('Z');
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(2.5), "2.5");
        assert_eq!(num(1.0 / 3.0), "0.33");
        assert_eq!(num(f64::INFINITY), "∞");
        assert_eq!(c(12.0), "12");
        assert_eq!(c(12.345), "12.3");
        let t = 1_688_991_331 * 1_000_000_000;
        assert_eq!(fmt_time(t), "2023-07-10 12:15:31 UTC");
        assert_eq!(fmt_minute(t), "2023-07-10 12:15 UTC");
        assert_eq!(fmt_day(t), "Jul 10");
        assert_eq!(fmt_clock(t), "12:15");
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_ticks(37.0, 4, 1.0), (10.0, 40.0));
        assert_eq!(nice_ticks(3.0, 4, 1.0), (1.0, 3.0));
        assert_eq!(nice_ticks(0.0, 4, 1.0), (1.0, 1.0));
        assert_eq!(nice_ticks(120.0, 4, 1.0), (50.0, 150.0));
    }

    #[test]
    fn time_ticks_fit() {
        let s = TimeScale::new(0, 3 * DAY, 0.0, W);
        let ticks = s.ticks();
        assert_eq!(ticks[0], (6 * HOUR, 0));
        assert_eq!(ticks.len(), 13);
        let s = TimeScale::new(HOUR / 2, 5 * HOUR, 0.0, W);
        let ticks = s.ticks();
        assert_eq!(ticks[0], (HOUR, HOUR));
    }

    #[test]
    fn focus_and_context() {
        // Ten days, a focus on 12 hours of day 8: 60% of the width.
        let f = (8 * DAY, 8 * DAY + 12 * HOUR);
        let s = TimeScale::focused(0, 10 * DAY, 0.0, 1000.0, Some(f));
        assert_eq!(s.focus(), Some(f));
        assert!((s.x(f.1) - s.x(f.0) - 600.0).abs() < 1e-9);
        assert_eq!(s.x(0), 0.0);
        assert!((s.x(10 * DAY) - 1000.0).abs() < 1e-9);
        // Monotonic and continuous at the edges.
        let mut last = f64::NEG_INFINITY;
        for h in 0..=240 {
            let x = s.x(h * HOUR);
            assert!(x > last);
            last = x;
        }
        assert!(s.zoom().unwrap() > 20.0);
        // A focus covering much of the range is not worth it: linear.
        let s = TimeScale::focused(0, 10 * DAY, 0.0, 1000.0, Some((0, 4 * DAY)));
        assert_eq!(s.focus(), None);
        assert_eq!(s.x(5 * DAY), 500.0);
    }
}
