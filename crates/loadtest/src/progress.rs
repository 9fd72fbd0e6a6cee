//! Progress bars while the run goes: the ramp-up (bots joined out of the target) and the
//! measured run (elapsed, frames per second, errors). Drawn on stdout only when it is a
//! terminal and `--quiet` is off, so logs and CI output stay clean.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::time::Instant;

use crate::stats::Live;

/// Time between two redraws.
pub(crate) const REFRESH: Duration = Duration::from_millis(250);

/// The two bars.
#[derive(Debug)]
pub(crate) struct Progress {
    multi: MultiProgress,
    ramp: ProgressBar,
    run: ProgressBar,
    duration: Duration,
    last_frames: u64,
    last_at: Instant,
}

impl Progress {
    /// Bars for `bots` bots and a measured `duration`; hidden when `quiet` or stdout is not a
    /// terminal.
    pub(crate) fn new(bots: u32, duration: Duration, quiet: bool) -> Self {
        let target = if quiet || !std::io::stdout().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stdout()
        };
        let multi = MultiProgress::with_draw_target(target);
        let style = |template: &str| {
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ")
        };
        let ramp = multi.add(
            ProgressBar::new(u64::from(bots))
                .with_style(style("ramp [{bar:30}] {pos}/{len} bots joined {msg}")),
        );
        let run = multi.add(
            ProgressBar::new(duration.as_millis().try_into().unwrap_or(u64::MAX))
                .with_style(style("run  [{bar:30}] {msg}")),
        );
        run.set_message("waiting for the ramp-up");
        Self {
            multi,
            ramp,
            run,
            duration,
            last_frames: 0,
            last_at: Instant::now(),
        }
    }

    /// Redraws from the live counters; `run_start` is set once every bot is started.
    pub(crate) fn update(&mut self, live: &Live, run_start: Option<Instant>) {
        let now = Instant::now();
        let frames = Live::get(&live.frames);
        let secs = now.duration_since(self.last_at).as_secs_f64();
        let fps = if secs > 0.0 {
            (frames - self.last_frames) as f64 / secs
        } else {
            0.0
        };
        (self.last_frames, self.last_at) = (frames, now);
        let errors = Live::get(&live.errors);
        self.ramp.set_position(Live::get(&live.connected));
        self.ramp.set_message(format!("({errors} errors)"));
        if let Some(start) = run_start {
            let elapsed = now.duration_since(start).min(self.duration);
            self.run
                .set_position(elapsed.as_millis().try_into().unwrap_or(u64::MAX));
            self.run.set_message(format!(
                "{:.1}/{:.1} s, {fps:.0} frames/s, {errors} errors",
                elapsed.as_secs_f64(),
                self.duration.as_secs_f64()
            ));
        }
    }

    /// Stops drawing and erases the bars: the table that follows says it all.
    pub(crate) fn finish(&self) {
        self.ramp.finish();
        self.run.finish();
        let _ = self.multi.clear();
    }
}
