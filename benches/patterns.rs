//! Log patterns at scale: the Drain clusterer behind `pattern` and `diff` over 1,000,000
//! generated Lambda log lines. Run with `cargo bench --bench patterns`; see benches/README.md
//! for the numbers.
//!
//! The lines are made once in setup (not timed), deterministically: per invocation a START,
//! application lines of twelve kinds (ids, numbers, IPs, paths, a stack-trace line now and
//! then), an END and a REPORT with its XRAY line, in the shapes Lambda's Node.js and Python
//! runtimes write. `patterns/drain_1m_lines` clusters all of them into templates; its
//! throughput is lines templated per second.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hopscope_analyzer::insights::patterns::Drain;

const LINES: usize = 1_000_000;

/// A xorshift generator: the same lines on every run, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }
}

fn lines() -> Vec<String> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(LINES);
    let mut second = 0u64;
    while out.len() < LINES {
        let id = rng.uuid();
        second += 1 + rng.below(3);
        let ts = format!(
            "2026-11-20T{:02}:{:02}:{:02}.{:03}Z",
            (second / 3600) % 24,
            (second / 60) % 60,
            second % 60,
            rng.below(1000)
        );
        out.push(format!("START RequestId: {id} Version: $LATEST"));
        for _ in 0..1 + rng.below(4) {
            let line = match rng.below(12) {
                0 => format!("{ts}\t{id}\tINFO\tCreating user {}", rng.uuid()),
                1 => format!(
                    "[INFO]\t{ts}\t{id}\tFetching page {} of {}",
                    rng.below(50),
                    50
                ),
                2 => format!(
                    "[INFO]\t{ts}\t{id}\tStored {} meals for patient {}",
                    rng.below(40),
                    rng.below(100_000)
                ),
                3 => format!(
                    "{ts}\t{id}\tINFO\tGET /orders/{} 200 {} ms",
                    rng.below(10_000),
                    rng.below(900)
                ),
                4 => format!(
                    "{ts}\t{id}\tINFO\tconnecting to 10.0.{}.{}:5432",
                    rng.below(255),
                    rng.below(255)
                ),
                5 => format!(
                    "[WARNING]\t{ts}\t{id}\tRetrying PutItem after throttle, attempt {}",
                    1 + rng.below(3)
                ),
                6 => format!("{ts}\t{id}\tWARN\tUser {} already exists", rng.uuid()),
                7 => format!(
                    "[INFO]\t{ts}\t{id}\tWrote {} rows to s3://etl-bucket/gdp/{}.parquet",
                    rng.below(5000),
                    rng.below(300)
                ),
                8 => format!(
                    "{ts}\t{id}\tERROR\tInvoke Error {{\"errorType\":\"ProvisionedThroughputExceededException\",\"requestId\":\"{}\"}}",
                    rng.uuid()
                ),
                9 => format!(
                    "[ERROR]\t{ts}\t{id}\tTraceback (most recent call last): File \"/var/task/app.py\", line {}, in handler",
                    rng.below(200)
                ),
                10 => format!(
                    "{ts}\t{id}\tINFO\tcache {} for key user#{}",
                    ["hit", "miss"][rng.below(2) as usize],
                    rng.below(1_000_000)
                ),
                _ => format!("[DEBUG]\t{ts}\t{id}\tsegment {:016x} closed", rng.next()),
            };
            out.push(line);
        }
        out.push(format!("END RequestId: {id}"));
        out.push(format!(
            "REPORT RequestId: {id}\tDuration: {}.{:02} ms\tBilled Duration: {} ms\tMemory Size: 512 MB\tMax Memory Used: {} MB\t\nXRAY TraceId: 1-{:08x}-{:024x}\tSegmentId: {:016x}\tSampled: true",
            rng.below(3000),
            rng.below(100),
            1 + rng.below(3000),
            60 + rng.below(200),
            rng.next() >> 32,
            u128::from(rng.next()) * 3,
            rng.next()
        ));
    }
    out.truncate(LINES);
    out
}

fn bench(c: &mut Criterion) {
    let lines = lines();
    let mut group = c.benchmark_group("patterns");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.throughput(Throughput::Elements(LINES as u64));
    group.bench_function("drain_1m_lines", |b| {
        b.iter(|| {
            let mut drain = Drain::new();
            for line in &lines {
                black_box(drain.add(line));
            }
            black_box(drain.len())
        });
    });
    group.finish();
    let mut drain = Drain::new();
    for line in &lines {
        drain.add(line);
    }
    println!("patterns/drain_1m_lines: {} templates", drain.len());
}

criterion_group!(benches, bench);
criterion_main!(benches);
