//! A tiny builder of self-contained SVG 1.1 documents: shapes, text and one
//! hatch pattern, with every number and every piece of text made safe on
//! the way in.
//!
//! Architecture invariant: all coordinates pass through [`num`], which
//! writes a non-finite value as `0` and clamps the rest, so no `NaN` or
//! `inf` can reach the output; all text passes through [`escape`]. The
//! documents hold no scripts and no external references (the only `url()`
//! is the local hatch pattern).

/// Coordinates are clamped to this magnitude; a chart never needs more.
const COORD_MAX: f64 = 1e6;

/// The font every chart uses.
pub(crate) const FONT: &str = "font-family=\"Helvetica, Arial, sans-serif\"";
/// The id of the hatch pattern [`Svg::new`] defines.
pub(crate) const HATCH: &str = "url(#hatch)";

/// An SVG document being written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Svg {
    out: String,
}

impl Svg {
    /// A `width` × `height` document on a white background, titled `title`
    /// (the `<title>` screen readers and browsers show).
    pub(crate) fn new(width: f64, height: f64, title: &str) -> Svg {
        let (w, h) = (num(width), num(height));
        let mut out = String::with_capacity(16 * 1024);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{w}\" \
             height=\"{h}\" viewBox=\"0 0 {w} {h}\" {FONT}>\n"
        ));
        out.push_str(&format!("<title>{}</title>\n", escape(title)));
        out.push_str(
            "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" \
             patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
             <line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#999999\" \
             stroke-width=\"2\"/></pattern></defs>\n",
        );
        out.push_str(&format!(
            "<rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n"
        ));
        Svg { out }
    }

    /// A rectangle; `style` is trusted attribute text (fill, stroke ...).
    pub(crate) fn rect(&mut self, x: f64, y: f64, width: f64, height: f64, style: &str) {
        self.out.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {style}/>\n",
            num(x),
            num(y),
            num(width.max(0.0)),
            num(height.max(0.0))
        ));
    }

    /// A straight line.
    pub(crate) fn line(&mut self, from: (f64, f64), to: (f64, f64), style: &str) {
        self.out.push_str(&format!(
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {style}/>\n",
            num(from.0),
            num(from.1),
            num(to.0),
            num(to.1)
        ));
    }

    /// An open polyline through `points`.
    pub(crate) fn polyline(&mut self, points: &[(f64, f64)], style: &str) {
        let coords: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{},{}", num(x), num(y)))
            .collect();
        self.out.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" {style}/>\n",
            coords.join(" ")
        ));
    }

    /// A circle.
    pub(crate) fn circle(&mut self, centre: (f64, f64), radius: f64, style: &str) {
        self.out.push_str(&format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" {style}/>\n",
            num(centre.0),
            num(centre.1),
            num(radius)
        ));
    }

    /// A path; `d` must have been built with [`num`].
    pub(crate) fn path(&mut self, d: &str, style: &str) {
        self.out.push_str(&format!("<path d=\"{d}\" {style}/>\n"));
    }

    /// Text at (`x`, `y`); `attrs` is trusted attribute text (anchor, size,
    /// transform ...), `text` is escaped.
    pub(crate) fn text(&mut self, at: (f64, f64), attrs: &str, text: &str) {
        self.out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" {attrs}>{}</text>\n",
            num(at.0),
            num(at.1),
            escape(text)
        ));
    }

    /// The finished document.
    pub(crate) fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

/// A coordinate as SVG text: at most two decimals, trailing zeros dropped,
/// `0` for a non-finite value, clamped to ±[`COORD_MAX`].
pub(crate) fn num(value: f64) -> String {
    let value = if value.is_finite() {
        value.clamp(-COORD_MAX, COORD_MAX)
    } else {
        0.0
    };
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "-0" | "" => "0".to_string(),
        _ => text.to_string(),
    }
}

/// `text` safe inside an XML element or a double-quoted attribute: the five
/// special characters become entities and characters XML 1.0 forbids (most
/// control characters) become spaces.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if u32::from(c) < 0x20 || matches!(c, '\u{fffe}' | '\u{ffff}') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_never_nan_or_infinite() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(1.25), "1.25");
        assert_eq!(num(-0.001), "0");
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(num(f64::INFINITY), "0");
        assert_eq!(num(1e300), "1000000");
    }

    #[test]
    fn text_is_escaped_for_elements_and_attributes() {
        assert_eq!(escape("A & <B> \"q\""), "A &amp; &lt;B&gt; &quot;q&quot;");
        assert_eq!(escape("a\u{0}b\nc"), "a b c");
    }

    #[test]
    fn a_document_is_one_svg_element_on_white() {
        let mut svg = Svg::new(100.0, 50.0, "T & U");
        svg.text((1.0, 2.0), "", "<x>");
        let doc = svg.finish();
        assert!(doc.contains("<title>T &amp; U</title>"));
        assert!(doc.contains(">&lt;x&gt;</text>"));
        assert!(doc.trim_end().ends_with("</svg>"));
        assert!(doc.contains("fill=\"#ffffff\""));
    }
}
