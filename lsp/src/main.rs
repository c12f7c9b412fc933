//! `iotrules-lsp`: the language server, speaking LSP over standard input and output.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What `--help` prints after the name and version.
const HELP: &str = "\
Language server for AWS IoT SQL rules, rule files and IoT policies.

Usage: iotrules-lsp [--stdio]
       iotrules-lsp --help | --version

It speaks the Language Server Protocol over standard input and output: an editor starts it
with no arguments and talks to it through those pipes (run by hand, it waits for a client).

What it checks, in the documents the editor opens:
  IoT SQL        one statement, checked as SQL version 2016-03-23: every document that is
                 not JSON; the editor chooses which files to send (`.iotsql`, and `.sql`
                 where it is IoT SQL)
  rule JSON      a TopicRulePayload (`sql`, `actions`) or get-topic-rule output, checked
                 under its own `awsIotSqlVersion`
  policy JSON    an IoT policy document (`Statement` or `Version`)
A document is JSON when its language is `json` or its name ends in `.json`; JSON that is
neither a rule nor a policy gets no diagnostics.

Editors:
  VS Code        the extension in editors/vscode
  Neovim         editors/neovim/iotrules.lua, for Neovim 0.7 and later
  any other      command `iotrules-lsp`, transport stdio, no arguments

Options:
  -h, --help     print this help and exit
  -V, --version  print the version and exit
      --stdio    accepted and ignored: standard input and output is the only transport";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Serve,
    Help,
    Version,
}

fn main() -> ExitCode {
    match parse(std::env::args_os().skip(1)) {
        Ok(Command::Serve) => serve(),
        Ok(Command::Help) => print(&format!("iotrules-lsp {VERSION}\n{HELP}")),
        Ok(Command::Version) => print(&format!("iotrules-lsp {VERSION}")),
        Err(argument) => {
            eprintln!(
                "iotrules-lsp: unexpected argument `{}`; `iotrules-lsp --help` lists the options",
                argument.to_string_lossy()
            );
            ExitCode::from(2)
        }
    }
}

/// Prints `text` and a newline on standard output; a closed output is a failure, not a panic.
fn print(text: &str) -> ExitCode {
    match writeln!(std::io::stdout(), "{text}") {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// The command the arguments ask for, or the first argument that is not an option.
fn parse(arguments: impl IntoIterator<Item = OsString>) -> Result<Command, OsString> {
    let mut command = Command::Serve;
    for argument in arguments {
        let asked = match argument.to_str() {
            Some("-h" | "--help") => Command::Help,
            Some("-V" | "--version") => Command::Version,
            // What vscode-languageclient and other clients add for the stdio transport.
            Some("--stdio") => continue,
            _ => return Err(argument),
        };
        if command == Command::Serve {
            command = asked;
        }
    }
    Ok(command)
}

fn serve() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("iotrules-lsp: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (service, socket) = iotrules_lsp::service();
    let ending =
        runtime.block_on(iotrules_lsp::framing::serve(tokio::io::stdin(), tokio::io::stdout(), service, socket));
    // tokio reads standard input on a blocking thread that nothing can cancel: waiting for a
    // read still pending there would keep the process alive until the client wrote again.
    runtime.shutdown_background();
    ending.exit_code()
}
