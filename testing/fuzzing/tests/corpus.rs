//! Replays every input of the seed corpus (`corpus/<target>/`) and every input a fuzzer once
//! failed on (`regressions/<target>/`) through its target, so `cargo test` keeps them fixed.

use std::path::{Path, PathBuf};

use tollgate_fuzzing::TARGETS;

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_target_has_a_seed_corpus_and_passes_it_and_its_regressions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for target in TARGETS {
        let seeds = inputs(&root.join("corpus").join(target.name));
        assert!(
            seeds.len() >= 3,
            "target {} has {} seed inputs, want at least 3",
            target.name,
            seeds.len()
        );
        let regressions = inputs(&root.join("regressions").join(target.name));
        for input in seeds.iter().chain(&regressions) {
            let Ok(bytes) = std::fs::read(input) else {
                panic!("cannot read {}", input.display());
            };
            (target.run)(&bytes);
        }
    }
}

#[test]
fn a_target_runs_on_empty_and_garbage_input() {
    for target in TARGETS {
        (target.run)(b"");
        (target.run)(b"\xff\xfe{\"");
    }
}
