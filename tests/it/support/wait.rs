//! Waiting for what happens elsewhere: on another task, or on another instance that hears of a change
//! through the database. Both poll in real time; a manual clock cannot speed up another task.

use std::time::{Duration, Instant};

/// Polls `check` for up to two seconds: another instance hears of a change through the database.
pub async fn within_two_seconds(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Polls until `done` holds, for what happens on other tasks; fails the test after ten seconds.
pub async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
