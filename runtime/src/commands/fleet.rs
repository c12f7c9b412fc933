//! `iotrules fleet DIR`: creates a local test fleet (see [`crate::fleet`]) and says how to use it.

use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use crate::cli::FleetArgs;
use crate::fleet::{self, Account};
use crate::report::output;

/// What `fleet --format json` prints: the paths of what it wrote.
#[derive(Serialize)]
struct Created {
    dir: String,
    /// The CA devices and the endpoint trust.
    ca: String,
    /// The endpoint's certificate and key (localhost, 127.0.0.1).
    server_certificate: String,
    server_key: String,
    devices: Vec<Device>,
    /// Things, certificates, the `device` policy, attachments.
    registry: String,
    /// Every file written.
    files: Vec<String>,
}

#[derive(Serialize)]
struct Device {
    thing: String,
    certificate: String,
    key: String,
}

pub(crate) fn run(args: &FleetArgs) -> ExitCode {
    let account = Account { region: args.region.clone(), account: args.account.clone() };
    let written = match fleet::create(&args.dir, &args.things, &account) {
        Ok(written) => written,
        Err(message) => return args.format.usage_error(&message),
    };
    let dir = args.dir.display();
    if args.format.is_json() {
        let path = |relative: &str| shown(&args.dir.join(relative));
        let devices = args.things.iter().map(|thing| Device {
            thing: thing.clone(),
            certificate: path(&format!("devices/{thing}.pem")),
            key: path(&format!("devices/{thing}.key")),
        });
        let created = Created {
            dir: dir.to_string(),
            ca: path("ca/ca.pem"),
            server_certificate: path("server/server.pem"),
            server_key: path("server/server.key"),
            devices: devices.collect(),
            registry: path("registry"),
            files: written.iter().map(|file| shown(file)).collect(),
        };
        return if output::document(&created) { ExitCode::SUCCESS } else { ExitCode::from(1) };
    }
    println!("created a fleet of {} in `{dir}` ({} files):", count(args.things.len()), written.len());
    println!("  {dir}/ca/ca.pem                 the CA devices and the endpoint trust");
    println!("  {dir}/server/server.pem, .key   the endpoint's certificate (localhost, 127.0.0.1)");
    println!("  {dir}/devices/<thing>.pem, .key each device's certificate and key");
    println!("  {dir}/registry/                 things, certificates, the `device` policy, attachments");
    println!("check it with: iotrules check --registry {dir}/registry");
    ExitCode::SUCCESS
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

fn count(things: usize) -> String {
    if things == 1 { "1 thing".to_owned() } else { format!("{things} things") }
}
