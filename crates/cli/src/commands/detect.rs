//! `autobranch detect`: branch points in a text.

use std::path::Path;

use autobranch_core::detect::{BranchExtractor, statistics};
use serde_json::json;

use crate::failure::{Classify, Failure};
use crate::input::read_text;

/// Runs the command.
pub fn run(file: Option<&Path>, json: bool) -> Result<(), Failure> {
    let (text, _) = read_text(file).bad_input()?;
    let points = BranchExtractor.extract(&text);
    let stats = statistics(&points);
    if json {
        let out = json!({"branch_points": points, "max_leaves": stats.max_leaves, "statistics": stats});
        println!("{}", serde_json::to_string_pretty(&out).runtime()?);
        return Ok(());
    }
    if points.is_empty() {
        println!("no branch points found");
    }
    for p in &points {
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
