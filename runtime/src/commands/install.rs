//! `iotrules completions SHELL` and `iotrules man`: what a package or an install script puts
//! beside the binary, generated from the same command-line definition the binary parses.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::Cli;

/// The name the completion script and the manual page are for.
const NAME: &str = "iotrules";

pub(crate) fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, NAME, &mut script);
    write_out(&script)
}

pub(crate) fn man() -> ExitCode {
    let mut page = Vec::new();
    match clap_mangen::Man::new(Cli::command()).render(&mut page) {
        Ok(()) => write_out(&page),
        Err(error) => {
            eprintln!("error: cannot render the manual page: {error}");
            ExitCode::from(1)
        }
    }
}

/// Writes to standard output; a closed pipe (`| head`) is not an error worth a message.
fn write_out(bytes: &[u8]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot write: {error}");
            ExitCode::from(1)
        }
    }
}
