//! Running the `iotrules` binary from the end-to-end benchmarks: building it, free ports, and
//! child processes that stop with the benchmark.

use std::io::BufRead;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// `IOTRULES_BIN`, or the `iotrules` cargo builds in this bench's own profile.
pub fn iotrules_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("IOTRULES_BIN") {
        return Ok(path.into());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut command = Command::new(cargo);
    command
        .args(["build", "-p", "iotrules-runtime", "--bin", "iotrules", "--message-format=json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(&manifest)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let output = command.output().map_err(|error| format!("cannot run cargo to build iotrules: {error}"))?;
    if !output.status.success() {
        return Err("cargo could not build iotrules".to_owned());
    }
    output
        .stdout
        .as_slice()
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(&line).ok())
        .filter(|message| message["target"]["name"] == "iotrules")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo built no iotrules executable".to_owned())
}

pub fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|error| format!("no free port: {error}"))?;
    listener.local_addr().map(|address| address.port()).map_err(|error| error.to_string())
}

/// A child process, killed when dropped.
#[derive(Debug)]
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Mosquitto binary: `MOSQUITTO`, else on `PATH`, else where Debian installs it.
pub fn mosquitto() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MOSQUITTO") {
        return Some(path.into());
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("mosquitto"));
    on_path.chain([PathBuf::from("/usr/sbin/mosquitto")]).find(|path| path.is_file())
}

/// The CPU time (user and system) process `pid` has used so far, in seconds; `None` where
/// `/proc` cannot tell.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index)?.parse::<f64>().ok();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; Linux
    // counts them in USER_HZ, 100 a second on every architecture it runs on.
    Some((ticks(11)? + ticks(12)?) / 100.0)
}
