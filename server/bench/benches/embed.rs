//! Throughput of the local embedding model (all-MiniLM-L6-v2 with candle on the CPU):
//! one short text at a time, and batches of 8 and 32 of the same texts. Criterion reports
//! time per iteration; texts/s is the batch size divided by it (docs/benchmarks.md).
//!
//! `cargo bench -p bench --bench embed` (the model comes from `make deps`).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use service::memories::embeddings::{LocalModel, local_model_dir};

/// Memory-sized texts: a sentence or two each, 12 to 40 tokens.
const TEXTS: [&str; 8] = [
    "Ada prefers to be contacted by email, never by phone.",
    "The quarterly planning meeting moved to Thursday at ten.",
    "Customer reported that exports time out for files above two gigabytes.",
    "Remember that the staging database is reset every Sunday night.",
    "The agent summarised the contract: twelve months, renewable, thirty days notice.",
    "Bob is allergic to peanuts; order the vegetarian menu for the offsite.",
    "Deploys freeze from December 20 to January 3 every year.",
    "The support team answers in English, German and Portuguese.",
];

fn embed(c: &mut Criterion) {
    let model = LocalModel::load(&local_model_dir()).expect("the model from `make deps`");
    let mut group = c.benchmark_group("embed");
    group.sample_size(20);
    for size in [1usize, 8, 32] {
        let batch: Vec<&str> = TEXTS.iter().cycle().take(size).copied().collect();
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(
            BenchmarkId::new("all-MiniLM-L6-v2", size),
            &batch,
            |b, batch| b.iter(|| black_box(model.embed(black_box(batch)).unwrap())),
        );
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    embed(&mut c);
    c.final_summary();
}
