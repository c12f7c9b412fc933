//! Benchmark inputs for iotrules: the workloads live here so the benchmarks and their tests
//! share them.

pub mod process;
pub mod rules;
pub mod sets;
pub mod telemetry;
