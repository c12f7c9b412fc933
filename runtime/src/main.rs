//! `iotrules`: check, evaluate and test AWS IoT SQL rules and IoT policies offline.
//!
//! Exit codes: 0 when everything is valid (warnings allowed), 1 when an input has an error,
//! 2 on a usage error (bad flags, unreadable files).

mod cli;
mod commands;
mod inputs;
mod policies;
mod report;
mod rules;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Check(args) => commands::check::run(&args),
        cli::Command::Eval(args) => commands::eval::run(&args),
        cli::Command::Test(args) => commands::test::run(&args),
        cli::Command::Bench(args) => commands::bench::run(&args),
        cli::Command::Authorize(args) => commands::authorize::run(&args),
        cli::Command::Fmt(args) => commands::fmt::run(&args),
    }
}
