//! One module per subcommand.

pub mod analyze;
pub mod bench;
pub mod detect;
pub mod devices;
pub mod embed;
pub mod explore;
pub mod generate;
pub mod models;
pub mod scenarios;
pub mod select;
pub mod serve;
