//! `iotrules`: check, evaluate and test AWS IoT SQL rules and IoT policies offline.
//!
//! Exit codes: 0 when everything is valid (warnings allowed), 1 when an input has an error,
//! 2 on a usage error (bad flags, unreadable files).

mod actions;
mod broker;
mod cli;
mod commands;
mod config;
mod endpoint;
mod fleet;
mod gateway;
mod inputs;
mod logging;
mod mqtt;
mod policies;
mod registry;
mod report;
mod rules;
mod samples;
mod serve;
mod shadow;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc returns freed memory to the system promptly, where glibc's allocator keeps what a
/// thread once used: without it every rule-set reload left the next one's worth behind.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Check(args) => commands::check::run(&args),
        cli::Command::Eval(args) => commands::eval::run(&args),
        cli::Command::Test(args) => commands::test::run(&args),
        cli::Command::Bench(args) => commands::bench::run(&args),
        cli::Command::Authorize(args) => commands::authorize::run(&args),
        cli::Command::Run(args) => commands::run::run(&args),
        cli::Command::Broker(args) => commands::broker::run(&args),
        cli::Command::Publish(args) => commands::publish::run(&args),
        cli::Command::Fmt(args) => commands::fmt::run(&args),
        cli::Command::Fleet(args) => commands::fleet::run(&args),
        cli::Command::Shadow(args) => commands::shadow::run(&args),
        cli::Command::Shadows(args) => commands::shadow::serve(&args),
        cli::Command::Serve(args) => commands::serve::run(&args),
        cli::Command::Export(args) => commands::export::run(&args),
        cli::Command::Completions { shell } => commands::install::completions(shell),
        cli::Command::Man => commands::install::man(),
    }
}
