//! The report's one piece of I/O: writing `report.md` and the charts into a
//! directory.
//!
//! Each file is written to a temporary name beside it, flushed to disk, then
//! renamed over the final name, so a reader (or a second Ctrl-C) never finds
//! a half-written report: it sees the old file or the new one.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use super::{charts, markdown, RunFigures};

/// The Markdown report's file name.
pub const REPORT_FILE: &str = "report.md";

/// Writes `report.md` and the SVG charts into `dir` (creating it), and
/// returns their paths, the Markdown first.
pub fn write(dir: &Path, f: &RunFigures) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let charts = charts(f);
    let mut paths = Vec::with_capacity(charts.len() + 1);
    paths.push(replace(dir, REPORT_FILE, &markdown(f, &charts))?);
    for chart in &charts {
        paths.push(replace(dir, chart.file, &chart.svg)?);
    }
    Ok(paths)
}

/// Writes `contents` to `dir/name` through a temporary file and a rename.
fn replace(dir: &Path, name: &str, contents: &str) -> io::Result<PathBuf> {
    let path = dir.join(name);
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = fs::File::create(&temp).and_then(|mut file| {
        file.write_all(contents.as_bytes())?;
        file.sync_all()
    });
    match written.and_then(|()| fs::rename(&temp, &path)) {
        Ok(()) => Ok(path),
        Err(error) => {
            // The temporary file is ours and useless now; failing to remove
            // it must not hide the error that matters.
            let _ = fs::remove_file(&temp);
            Err(error)
        }
    }
}
