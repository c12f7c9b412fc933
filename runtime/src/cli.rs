//! The command-line interface: flags and subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use iotrules_compiler::SqlVersion;

#[derive(Debug, Parser)]
#[command(name = "iotrules", version, about = "Check, evaluate and run AWS IoT Core rules offline")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check IoT SQL statements and TopicRulePayload files, as AWS IoT Core would accept them.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// `.sql` files (one statement each), TopicRulePayload `.json` files, or directories of them.
    #[arg(required_unless_present = "sql", conflicts_with = "sql")]
    pub(crate) paths: Vec<PathBuf>,

    /// Check this statement instead of files.
    #[arg(long)]
    pub(crate) sql: Option<String>,

    /// SQL version for `--sql` and `.sql` files; JSON files name their own `awsIotSqlVersion`.
    #[arg(long, value_parser = parse_sql_version, default_value = "2016-03-23")]
    pub(crate) sql_version: SqlVersion,

    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,

    /// Exit with 1 on warnings too.
    #[arg(long)]
    pub(crate) deny_warnings: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Rendered reports with the source snippet, on standard error.
    Human,
    /// One JSON document on standard output.
    Json,
}

fn parse_sql_version(text: &str) -> Result<SqlVersion, String> {
    text.parse().map_err(|error: iotrules_compiler::version::UnknownSqlVersion| error.to_string())
}
