//! What shipping the gateway's own log costs per window: appending a group of events (one
//! fsync) and reading them back for JetStream, from the memory tail (the log is shipped as it is
//! written) or from the segment files (after a restart, or once the tail overflowed); and one
//! event appended and shipped at a time, as at low load.
//!   cargo bench -p tollgate-events --bench spool

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tollgate_events::{Spool, SpoolConfig, SpoolMetrics, SpooledEvent};
use uuid::Uuid;

/// Events per group commit and per shipped window in this bench.
const GROUP: usize = 64;

fn events() -> Vec<SpooledEvent> {
    let tenant = Uuid::now_v7();
    (0..GROUP)
        .map(|n| SpooledEvent {
            event_id: Uuid::now_v7(),
            subject: format!("tollgate.v1.{tenant}.usage.recorded"),
            // About the size of a usage event.
            payload: Bytes::from(format!("{{\"n\":{n},\"pad\":\"{}\"}}", "x".repeat(600))),
            spooled_at_ms: 1_700_000_000_000,
        })
        .collect()
}

fn open(memory_bytes: u64) -> (Spool, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("tollgate-spool-bench-{}", Uuid::new_v4()));
    let mut config = SpoolConfig::new(&dir, 1 << 30);
    config.memory_bytes = memory_bytes;
    let spool = Spool::open(config, SpoolMetrics::default()).unwrap_or_else(|err| {
        eprintln!("spool: {err}");
        std::process::exit(1)
    });
    (spool, dir)
}

fn ship(c: &mut Criterion) {
    let batch = events();
    for (name, memory) in [
        (
            "read and commit a window of 64 from the memory tail",
            8 << 20,
        ),
        ("read and commit a window of 64 from disk", 0),
    ] {
        let (spool, dir) = open(memory);
        c.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let _ = spool.append(&batch);
                },
                |()| {
                    let window = spool.read(GROUP).unwrap_or_else(|err| {
                        eprintln!("read: {err}");
                        std::process::exit(1)
                    });
                    assert_eq!(window.events.len(), GROUP);
                    let _ = spool.commit(window.end, window.events.len());
                },
                BatchSize::PerIteration,
            );
        });
        drop(spool);
        let _ = std::fs::remove_dir_all(dir);
    }
    let (spool, dir) = open(8 << 20);
    c.bench_function(
        "append a group of 64 (one fsync) and ship it from memory",
        |b| {
            b.iter(|| {
                let _ = spool.append(&batch);
                if let Ok(window) = spool.read(GROUP) {
                    let _ = spool.commit(window.end, window.events.len());
                }
            });
        },
    );
    drop(spool);
    let _ = std::fs::remove_dir_all(dir);
    // A group of one: what a request pays at low load (one small write and its fsync).
    let (spool, dir) = open(8 << 20);
    let one = &batch[..1];
    c.bench_function(
        "append one event (one fsync) and ship it from memory",
        |b| {
            b.iter(|| {
                let _ = spool.append(one);
                if let Ok(window) = spool.read(GROUP) {
                    let _ = spool.commit(window.end, window.events.len());
                }
            });
        },
    );
    drop(spool);
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, ship);
criterion_main!(benches);
