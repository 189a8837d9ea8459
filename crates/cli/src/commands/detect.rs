//! `autobranch detect`: branch points in a text.

use std::path::Path;

use std::io::Write;

use autobranch_core::detect::detect;

use crate::failure::{Classify, Failure};
use crate::input::read_text;

/// Runs the command.
pub fn run(file: Option<&Path>, json: bool) -> Result<(), Failure> {
    let (text, _) = read_text(file).bad_input()?;
    // Refuses texts over its documented limit (memory stays a small multiple of the input).
    let detection = detect(&text).bad_input()?;
    if json {
        // Streamed: no second copy of the whole output in memory.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        serde_json::to_writer_pretty(&mut out, &detection).runtime()?;
        writeln!(out).and_then(|()| out.flush()).runtime()?;
        return Ok(());
    }
    let (points, stats) = (&detection.branch_points, &detection.statistics);
    if points.is_empty() {
        println!("no branch points found");
    }
    for p in points {
        println!("{} ({}, {} options)", p.id, p.kind.as_str(), p.options.len());
        if let Some(condition) = p.meta.get("condition").and_then(|c| c.as_str()) {
            println!("  condition: {condition}");
        }
        for o in &p.options {
            println!("  - {}: {}", o.id, o.label);
        }
    }
    println!();
    println!(
        "{} branch point(s), {} option(s), max leaves {}{}",
        stats.total_branch_points,
        stats.total_options,
        stats.max_leaves,
        if stats.max_leaves_saturated { " (saturated at u64::MAX)" } else { "" }
    );
    Ok(())
}
