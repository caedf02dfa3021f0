//! Request counters and latency histograms, rendered in Prometheus' text format.
//!
//! Labels are the route (a fixed set, never a path with an id in it) and the status code, so
//! no patient id or feature value can reach a scraper.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What a request asked for, as a metrics label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Route {
    Health,
    Metrics,
    Groups,
    GetRecord,
    BatchGet,
    Models,
    Predict,
    /// Anything else (answered 404/405).
    Other,
}

impl Route {
    const ALL: [Route; 8] = [
        Route::Health,
        Route::Metrics,
        Route::Groups,
        Route::GetRecord,
        Route::BatchGet,
        Route::Models,
        Route::Predict,
        Route::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Route::Health => "healthz",
            Route::Metrics => "metrics",
            Route::Groups => "groups",
            Route::GetRecord => "get_record",
            Route::BatchGet => "batch_get",
            Route::Models => "models",
            Route::Predict => "predict",
            Route::Other => "other",
        }
    }
}

/// Upper bounds of the latency buckets, in seconds: 50 µs to 1 s.
const BUCKETS: [f64; 14] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

#[derive(Default)]
struct Histogram {
    /// Cumulative counts are computed when rendering; each slot counts its own bucket, the
    /// last one everything above the largest bound.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

#[derive(Default)]
pub struct Metrics {
    latency: [Histogram; Route::ALL.len()],
    by_status: Mutex<BTreeMap<(Route, u16), u64>>,
}

impl Metrics {
    pub fn observe(&self, route: Route, status: u16, elapsed: Duration) {
        let histogram = &self.latency[route as usize];
        let seconds = elapsed.as_secs_f64();
        let slot = BUCKETS.iter().position(|&bound| seconds <= bound).unwrap_or(BUCKETS.len());
        histogram.buckets[slot].fetch_add(1, Ordering::Relaxed);
        histogram.count.fetch_add(1, Ordering::Relaxed);
        histogram.sum_nanos.fetch_add(elapsed.as_nanos().min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
        if let Ok(mut counts) = self.by_status.lock() {
            *counts.entry((route, status)).or_default() += 1;
        }
    }

    /// The Prometheus text exposition of everything observed so far.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        let counts = self.by_status.lock().map(|c| c.clone()).unwrap_or_default();
        out.push_str("# HELP flow_serve_requests_total Requests answered, by route and HTTP status.\n");
        out.push_str("# TYPE flow_serve_requests_total counter\n");
        for ((route, status), n) in &counts {
            let _ = writeln!(out, "flow_serve_requests_total{{route=\"{}\",status=\"{status}\"}} {n}", route.label());
        }
        out.push_str("# HELP flow_serve_errors_total Requests answered with a 4xx or 5xx status, by route.\n");
        out.push_str("# TYPE flow_serve_errors_total counter\n");
        let mut errors: BTreeMap<Route, u64> = BTreeMap::new();
        for ((route, status), n) in &counts {
            if *status >= 400 {
                *errors.entry(*route).or_default() += n;
            }
        }
        for (route, n) in errors {
            let _ = writeln!(out, "flow_serve_errors_total{{route=\"{}\"}} {n}", route.label());
        }
        out.push_str("# HELP flow_serve_request_seconds Time from a request's arrival to its answer.\n");
        out.push_str("# TYPE flow_serve_request_seconds histogram\n");
        for route in Route::ALL {
            let histogram = &self.latency[route as usize];
            let count = histogram.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let label = route.label();
            let mut cumulative = 0;
            for (bound, bucket) in BUCKETS.iter().zip(&histogram.buckets) {
                cumulative += bucket.load(Ordering::Relaxed);
                let _ =
                    writeln!(out, "flow_serve_request_seconds_bucket{{route=\"{label}\",le=\"{bound}\"}} {cumulative}");
            }
            let _ = writeln!(out, "flow_serve_request_seconds_bucket{{route=\"{label}\",le=\"+Inf\"}} {count}");
            let sum = histogram.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "flow_serve_request_seconds_sum{{route=\"{label}\"}} {sum}");
            let _ = writeln!(out, "flow_serve_request_seconds_count{{route=\"{label}\"}} {count}");
        }
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_land_in_their_bucket_and_errors_are_counted() {
        let metrics = Metrics::default();
        metrics.observe(Route::GetRecord, 200, Duration::from_micros(80));
        metrics.observe(Route::GetRecord, 404, Duration::from_millis(3));
        metrics.observe(Route::Predict, 200, Duration::from_secs(2));
        let text = metrics.render(&[("flow_serve_groups", "Groups served.", 3.0)]);
        assert!(text.contains("flow_serve_requests_total{route=\"get_record\",status=\"200\"} 1"));
        assert!(text.contains("flow_serve_errors_total{route=\"get_record\"} 1"));
        assert!(text.contains("flow_serve_request_seconds_bucket{route=\"get_record\",le=\"0.00005\"} 0"));
        assert!(text.contains("flow_serve_request_seconds_bucket{route=\"get_record\",le=\"0.0001\"} 1"));
        assert!(text.contains("flow_serve_request_seconds_bucket{route=\"get_record\",le=\"0.005\"} 2"));
        assert!(text.contains("flow_serve_request_seconds_bucket{route=\"predict\",le=\"1\"} 0"));
        assert!(text.contains("flow_serve_request_seconds_bucket{route=\"predict\",le=\"+Inf\"} 1"));
        assert!(text.contains("flow_serve_groups 3"));
        assert!(!text.contains("route=\"batch_get\""));
    }
}
