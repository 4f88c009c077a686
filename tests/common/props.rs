//! The proptest settings every property test here shares.

use proptest::test_runner::{Config, FileFailurePersistence};

/// `default_cases` cases per property, `PROPTEST_CASES` overriding it;
/// failures found once are kept in `tests/proptest-regressions/FILE.txt`
/// (committed) and replayed first on every run.
pub fn config(file: &str, default_cases: u32) -> Config {
    // FileFailurePersistence wants a 'static path; one per test binary.
    let path: &'static str = Box::leak(
        format!(
            "{}/tests/proptest-regressions/{file}.txt",
            env!("CARGO_MANIFEST_DIR")
        )
        .into_boxed_str(),
    );
    Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(path))),
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default_cases),
        ..Config::default()
    }
}
