//! The `autobranch` command line as a library: the flags its commands share ([`args`]), how
//! the compiled-in model backends are wired ([`backends`], one cargo feature each), models
//! from the Hugging Face Hub ([`hub`]), exit codes ([`failure`]) and one module per
//! subcommand ([`commands`]). The binary (`src/main.rs`) only parses arguments and
//! dispatches; other front ends, such as the Python package in `crates/python`, load models
//! and configuration through the same functions, so they find the same default models and
//! say the same things about bad input.

pub mod args;
pub mod backends;
pub mod commands;
pub mod failure;
mod html;
pub mod hub;
mod input;
mod output;
