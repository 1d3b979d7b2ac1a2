//! Serving until SIGTERM or Ctrl-C, then stopping in an order that loses nothing that was answered:
//! 1. stop accepting connections, and let requests in flight finish, for up to the grace period
//!    (`CONNECTIONS_SHUTDOWN_GRACE_SECS`); a request still running then is cut off;
//! 2. stop the background work (the token refresher, upkeep), and let refreshes in flight store
//!    their outcome within what is left of the grace period: a provider that rotated a refresh token
//!    has already retired the stored one;
//! 3. write the activity queue, which holds the answered requests' events;
//! 4. release the refresh leases this process still holds, so another instance need not wait for them
//!    to run out.

use std::time::Duration;

use tokio::time::Instant;

use crate::app::Running;
use crate::error::AppError;

/// Serves `running` until a stop signal or a server error, then stops in order.
pub async fn serve_until_stopped(running: Running) -> Result<(), AppError> {
    let Running { server, state, stop_background, .. } = running;
    let grace = Duration::from_secs(state.config.shutdown_grace_secs);
    let handle = server.handle();
    let mut server = std::pin::pin!(server);
    let served = tokio::select! {
        ended = &mut server => ended,
        signal = stop_signal() => {
            let signal = signal?;
            tracing::info!(
                signal,
                "stopping: no new connections; requests in flight have {} s to finish",
                grace.as_secs()
            );
            // The server future does the stopping: it is polled until it ends.
            tokio::join!(handle.stop(true), server).1
        }
    };
    let deadline = Instant::now() + grace;
    let _ = stop_background.send(true);
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
    if !state.refresher.finish_in_flight(left).await {
        tracing::warn!("a token refresh was still waiting for its provider at shutdown; it is abandoned");
    }
    state.activity.shutdown().await;
    let holder = state.refresher.holder().to_owned();
    match state.db.run(move |c| Ok(crate::models::lease::release_holder(c, &holder)?)).await {
        Ok(0) => {}
        Ok(released) => tracing::info!(released, "released this instance's refresh leases"),
        Err(e) => tracing::warn!(error = %e, "could not release this instance's refresh leases"),
    }
    tracing::info!("stopped");
    served.map_err(|e| AppError::Startup(format!("server error: {e}")))
}

/// Waits for SIGTERM (a service manager's stop) or SIGINT (Ctrl-C); returns its name.
async fn stop_signal() -> Result<&'static str, AppError> {
    let cannot = |e: std::io::Error| AppError::Startup(format!("cannot listen for stop signals: {e}"));
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(cannot)?;
        tokio::select! {
            _ = term.recv() => Ok("SIGTERM"),
            interrupted = tokio::signal::ctrl_c() => interrupted.map(|()| "SIGINT").map_err(cannot),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map(|()| "Ctrl-C").map_err(cannot)
    }
}
