//! `iotrules fleet DIR`: creates a local test fleet (see [`crate::fleet`]) and says how to use it.

use std::process::ExitCode;

use crate::cli::FleetArgs;
use crate::commands::check::usage_error;
use crate::fleet::{self, Account};

pub(crate) fn run(args: &FleetArgs) -> ExitCode {
    let account = Account { region: args.region.clone(), account: args.account.clone() };
    match fleet::create(&args.dir, &args.things, &account) {
        Ok(written) => {
            let dir = args.dir.display();
            println!("created a fleet of {} in `{dir}` ({} files):", count(args.things.len()), written.len());
            println!("  {dir}/ca/ca.pem                 the CA devices and the endpoint trust");
            println!("  {dir}/server/server.pem, .key   the endpoint's certificate (localhost, 127.0.0.1)");
            println!("  {dir}/devices/<thing>.pem, .key each device's certificate and key");
            println!("  {dir}/registry/                 things, certificates, the `device` policy, attachments");
            println!("check it with: iotrules check --registry {dir}/registry");
            ExitCode::SUCCESS
        }
        Err(message) => usage_error(&message),
    }
}

fn count(things: usize) -> String {
    if things == 1 { "1 thing".to_owned() } else { format!("{things} things") }
}
