//! One selector step on precomputed 384-d unit vectors (K = 5, cosine 0.85, Shannon
//! entropy with k_max 5), the workload the original Python library takes 5.6 ms (N = 10)
//! to 52 ms (N = 500) for on this machine kind.

use autobranch_benches::{StepWorkload, step_config};
use autobranch_core::StepVectors;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};

fn selector_step(c: &mut Criterion) {
    let config = step_config();
    let mut group = c.benchmark_group("selector_step");
    for n in [10usize, 50, 100, 500, 10_000] {
        let work = StepWorkload::clustered(n, 384, 7);
        let mut selector = config.build_selector();
        group.bench_with_input(BenchmarkId::from_parameter(n), &work, |b, work| {
            b.iter_batched(
                || work.candidates.clone(),
                |candidates| {
                    let vectors =
                        StepVectors::precomputed(("root", &work.parent_vector), &work.pairs()).expect("valid vectors");
                    selector.step_with_vectors(&work.parent, candidates, Some(&vectors)).expect("step succeeds")
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, selector_step);
criterion_main!(benches);
