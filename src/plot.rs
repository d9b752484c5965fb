//! Shared chart plumbing: the embedded font and writing a chart as both PNG
//! and SVG. A fresh machine has no fonts; PNG text is rasterized from DejaVu
//! Sans compiled into the binary, SVG text names `sans-serif`.

use plotters::prelude::*;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
pub const SIZE: (u32, u32) = (900, 640);

pub type Res = Result<(), String>;

pub fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Makes the embedded font the one plotters uses for every family name.
pub fn register_fonts() -> Res {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        for family in ["sans-serif", "serif", "monospace"] {
            for style in [FontStyle::Normal, FontStyle::Bold] {
                if plotters::style::register_font(family, style, FONT).is_err() {
                    result = Err("the embedded DejaVu Sans font did not load".to_string());
                }
            }
        }
    });
    result
}

/// Draws `$draw(&root, $data)` into `$dir/$name.png` and `.svg`, pushing
/// both paths onto `$written`.
macro_rules! both {
    ($dir:expr, $name:expr, $draw:ident, $data:expr, $written:expr) => {{
        let png = $dir.join(format!("{}.png", $name));
        {
            let root = BitMapBackend::new(&png, $crate::plot::SIZE).into_drawing_area();
            root.fill(&WHITE).map_err($crate::plot::s)?;
            $draw(&root, $data)?;
            root.present().map_err($crate::plot::s)?;
        }
        let svg = $dir.join(format!("{}.svg", $name));
        {
            let root = SVGBackend::new(&svg, $crate::plot::SIZE).into_drawing_area();
            root.fill(&WHITE).map_err($crate::plot::s)?;
            $draw(&root, $data)?;
            root.present().map_err($crate::plot::s)?;
        }
        $written.push(png);
        $written.push(svg);
    }};
}
pub(crate) use both;
