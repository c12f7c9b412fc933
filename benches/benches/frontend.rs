//! The compiler front end over 1,000 realistic rules: parsing alone, and parsing plus checking,
//! which is what `iotrules check` and the language server do on every rule.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use iotrules_benches::rules::realistic_rules;
use iotrules_compiler::{SqlVersion, check_sql, syntax};

const RULES: usize = 1_000;

fn frontend(c: &mut Criterion) {
    let rules = realistic_rules(RULES);
    let mut group = c.benchmark_group("frontend");
    group.throughput(Throughput::Elements(RULES as u64));
    group.bench_function("parse_and_check_1000_rules", |b| {
        b.iter(|| {
            for rule in &rules {
                black_box(check_sql(black_box(rule), SqlVersion::V2016_03_23));
            }
        });
    });
    group.bench_function("parse_only_1000_rules", |b| {
        b.iter(|| {
            for rule in &rules {
                black_box(syntax::parse(black_box(rule)));
            }
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    targets = frontend
}
criterion_main!(benches);
